package dev.ayala.flink;

import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.StatementSet;

/**
 * The invoicing example's dashboard figures as a Flink SQL job in a local MiniCluster, reading the
 * example's own invoice events (examples/invoicing-api, src/invoices/invoice-events.ts): JSON
 * `{invoiceId, version, at, invoice: {clientId, status, currency, totalCents, issuedAt} | null,
 * previous}`, keyed by invoice id, delivered at least once by the outbox relay (duplicates, and
 * versions out of order when two relays race).
 *
 * The latest state per invoice is its highest version (ROW_NUMBER by version, not by offset: a
 * relay may deliver an older version after a newer one); a deletion's event (`invoice` null, the
 * last version plus one) becomes that latest state and is filtered out, so Flink retracts the
 * invoice's previous row from every figure. Over those states, into upsert-kafka topics with
 * exactly-once delivery (Kafka transactions committed on checkpoints, every second):
 *
 *   <prefix>-overall     key {scope: "all"}     value {scope, invoices}
 *   <prefix>-by-status   key {status}           value {status, invoices, total_cents}
 *   <prefix>-by-day      key {day: yyyy-MM-dd}  value {day, invoices, total_cents}   (UTC issue day)
 *   <prefix>-top-clients key {clientId}         value {clientId, total_cents}       (the best 20)
 *
 * A group whose last invoice leaves is retracted: upsert-kafka writes a tombstone for its key.
 * The top keeps 20 clients, twice the dashboard's 10, so that the reader orders ties at the 10th
 * place the way Redis does (score, then member) with every tied client at hand.
 *
 * args: brokers sourceTopic topicPrefix groupId checkpointDir txPrefix [restorePath]
 */
public final class InvoiceDashboardJob {
  public static void main(String[] args) throws Exception {
    String brokers = args[0], source = args[1], prefix = args[2];
    String group = args[3], checkpoints = args[4], txPrefix = args[5];
    // One subtask per operator: an example's volume, and four sinks' transactional producers.
    TableEnvironment env = FlinkJobs.environment(checkpoints, 1, args.length > 6 ? args[6] : null,
        "table.local-time-zone", "UTC");
    env.executeSql("CREATE TABLE events (invoiceId STRING, version BIGINT, `at` BIGINT,"
        + " invoice ROW<clientId STRING, `status` STRING, currency STRING, totalCents BIGINT, issuedAt BIGINT>"
        + ") WITH ('connector' = 'kafka', 'topic' = '" + source + "', 'properties.bootstrap.servers' = '" + brokers + "',"
        + " 'properties.group.id' = '" + group + "', 'scan.startup.mode' = 'earliest-offset',"
        + " 'properties.isolation.level' = 'read_committed', 'format' = 'json')");
    String sink = FlinkJobs.upsertSink(brokers, txPrefix);
    env.executeSql("CREATE TABLE overall (`scope` STRING, invoices BIGINT, PRIMARY KEY (`scope`) NOT ENFORCED)"
        + sink + "-o', 'topic' = '" + prefix + "-overall')");
    env.executeSql("CREATE TABLE by_status (`status` STRING, invoices BIGINT, total_cents BIGINT,"
        + " PRIMARY KEY (`status`) NOT ENFORCED)" + sink + "-s', 'topic' = '" + prefix + "-by-status')");
    env.executeSql("CREATE TABLE by_day (`day` STRING, invoices BIGINT, total_cents BIGINT,"
        + " PRIMARY KEY (`day`) NOT ENFORCED)" + sink + "-d', 'topic' = '" + prefix + "-by-day')");
    env.executeSql("CREATE TABLE top_clients (clientId STRING, total_cents BIGINT,"
        + " PRIMARY KEY (clientId) NOT ENFORCED)" + sink + "-c', 'topic' = '" + prefix + "-top-clients')");
    // The latest version of each invoice; a deletion is its latest version and leaves no row.
    env.executeSql("CREATE TEMPORARY VIEW latest AS SELECT invoice.clientId AS clientId,"
        + " invoice.`status` AS `status`, invoice.totalCents AS totalCents,"
        + " DATE_FORMAT(TO_TIMESTAMP_LTZ(invoice.issuedAt, 3), 'yyyy-MM-dd') AS `day` FROM ("
        + " SELECT *, ROW_NUMBER() OVER (PARTITION BY invoiceId ORDER BY version DESC) AS rn FROM events)"
        + " WHERE rn = 1 AND invoice IS NOT NULL");
    StatementSet statements = env.createStatementSet();
    statements.addInsertSql("INSERT INTO overall SELECT `scope`, COUNT(*) FROM"
        + " (SELECT 'all' AS `scope` FROM latest) GROUP BY `scope`");
    statements.addInsertSql("INSERT INTO by_status SELECT `status`, COUNT(*), SUM(totalCents) FROM latest GROUP BY `status`");
    statements.addInsertSql("INSERT INTO by_day SELECT `day`, COUNT(*), SUM(totalCents) FROM latest GROUP BY `day`");
    env.executeSql("CREATE TEMPORARY VIEW per_client AS SELECT clientId, SUM(totalCents) AS total_cents"
        + " FROM latest GROUP BY clientId");
    statements.addInsertSql("INSERT INTO top_clients SELECT clientId, total_cents FROM ("
        + " SELECT *, ROW_NUMBER() OVER (ORDER BY total_cents DESC) AS rn FROM per_client WHERE total_cents > 0)"
        + " WHERE rn <= 20");
    FlinkJobs.run(statements.execute());
  }
}
