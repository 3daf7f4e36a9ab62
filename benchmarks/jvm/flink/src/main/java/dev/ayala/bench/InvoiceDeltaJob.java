package dev.ayala.bench;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * The Flink delta job of the metrics-engines benchmark: a Flink SQL job in a local MiniCluster,
 * configured as the harness's InvoiceStatusJob (services/launcher/flink: checkpoints every 1 s,
 * exactly-once, parallelism 2, upsert-kafka with exactly-once delivery), but aggregating the
 * events' deltas, as the Kafka Streams job and the embedded consumer's delta-mode view do: each
 * event adds its state (+1, +cents) and a correction retracts its previous state (-1, -cents),
 * GROUP BY status. No state per invoice (InvoiceStatusJob keeps each invoice's latest state with
 * ROW_NUMBER and retracts its old row), one sink (no per-day count).
 *
 * Output rows: key {"status":"paid"}, value {"status":"paid","invoices":N,"amount_cents":S}.
 * Prints "JOB <id>" once the job is submitted; runs until killed.
 *
 * args: brokers sourceTopic statusTopic groupId checkpointDir txPrefix
 */
public final class InvoiceDeltaJob {
  public static void main(String[] args) throws Exception {
    String brokers = args[0], source = args[1], byStatus = args[2];
    String group = args[3], checkpoints = args[4], prefix = args[5];
    Configuration conf = new Configuration();
    conf.setString("execution.checkpointing.interval", "1s");
    conf.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
    conf.setString("execution.checkpointing.dir", "file://" + checkpoints);
    conf.setString("parallelism.default", "2");
    conf.setString("rest.port", "0");
    TableEnvironment env = TableEnvironment.create(
        EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
    env.executeSql("CREATE TABLE events (`status` STRING, amountCents BIGINT,"
        + " previous ROW<`status` STRING, amountCents BIGINT>"
        + ") WITH ('connector' = 'kafka', 'topic' = '" + source + "', 'properties.bootstrap.servers' = '" + brokers + "',"
        + " 'properties.group.id' = '" + group + "', 'scan.startup.mode' = 'earliest-offset',"
        + " 'properties.isolation.level' = 'read_committed', 'format' = 'json')");
    env.executeSql("CREATE TABLE by_status (`status` STRING, invoices BIGINT, amount_cents BIGINT, PRIMARY KEY (`status`) NOT ENFORCED)"
        + " WITH ('connector' = 'upsert-kafka', 'properties.bootstrap.servers' = '" + brokers + "',"
        + " 'key.format' = 'json', 'value.format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',"
        + " 'properties.transaction.timeout.ms' = '60000', 'sink.transactional-id-prefix' = '" + prefix + "',"
        + " 'topic' = '" + byStatus + "')");
    TableResult result = env.executeSql("INSERT INTO by_status SELECT `status`, SUM(n), SUM(cents) FROM ("
        + " SELECT `status`, CAST(1 AS BIGINT) AS n, amountCents AS cents FROM events"
        + " UNION ALL"
        + " SELECT previous.`status`, CAST(-1 AS BIGINT), -previous.amountCents FROM events WHERE previous IS NOT NULL"
        + ") GROUP BY `status`");
    System.out.println("JOB " + result.getJobClient().get().getJobID());
    System.out.flush();
    result.await();
  }
}
