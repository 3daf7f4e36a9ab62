package dev.ayala.flink;

import org.apache.flink.table.api.TableEnvironment;

/**
 * A Flink SQL job in a local MiniCluster: invoice events (JSON, one per state change, keyed by
 * invoice) -> the latest state per invoice -> GROUP BY status (count, sum of cents) and a per-day
 * count, into upsert-kafka topics with exactly-once delivery (Kafka transactions committed on
 * checkpoints).
 *
 * args: brokers sourceTopic statusTopic dayTopic groupId checkpointDir txPrefix [restorePath]
 */
public final class InvoiceStatusJob {
  public static void main(String[] args) throws Exception {
    String brokers = args[0], source = args[1], byStatus = args[2], byDay = args[3];
    String group = args[4], checkpoints = args[5], prefix = args[6];
    TableEnvironment env = FlinkJobs.environment(checkpoints, 2, args.length > 7 ? args[7] : null);
    env.executeSql("CREATE TABLE events (id STRING, `status` STRING, amountCents BIGINT, issuedAt BIGINT, `at` BIGINT,"
        + " `offset` BIGINT METADATA VIRTUAL, `partition` INT METADATA VIRTUAL"
        + ") WITH ('connector' = 'kafka', 'topic' = '" + source + "', 'properties.bootstrap.servers' = '" + brokers + "',"
        + " 'properties.group.id' = '" + group + "', 'scan.startup.mode' = 'earliest-offset',"
        + " 'properties.isolation.level' = 'read_committed', 'format' = 'json')");
    String sink = FlinkJobs.upsertSink(brokers, prefix);
    env.executeSql("CREATE TABLE by_status (`status` STRING, invoices BIGINT, amount_cents BIGINT, PRIMARY KEY (`status`) NOT ENFORCED)"
        + sink + "-s', 'topic' = '" + byStatus + "')");
    env.executeSql("CREATE TABLE by_day (`day` STRING, invoices BIGINT, PRIMARY KEY (`day`) NOT ENFORCED)"
        + sink + "-d', 'topic' = '" + byDay + "')");
    // The latest state of each invoice (its events are in one partition, in offset order), then
    // the figures over those states: Flink retracts an invoice's old row when its state changes.
    env.executeSql("CREATE TEMPORARY VIEW latest AS SELECT id, `status`, amountCents, issuedAt FROM ("
        + " SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY `offset` DESC) AS rn FROM ("
        + "  SELECT *, PROCTIME() AS pt FROM events)) WHERE rn = 1");
    var statements = env.createStatementSet();
    statements.addInsertSql("INSERT INTO by_status SELECT `status`, COUNT(*), SUM(amountCents) FROM latest GROUP BY `status`");
    statements.addInsertSql("INSERT INTO by_day SELECT DATE_FORMAT(TO_TIMESTAMP_LTZ(issuedAt, 3), 'yyyy-MM-dd'), COUNT(*)"
        + " FROM latest GROUP BY DATE_FORMAT(TO_TIMESTAMP_LTZ(issuedAt, 3), 'yyyy-MM-dd')");
    FlinkJobs.run(statements.execute());
  }
}
