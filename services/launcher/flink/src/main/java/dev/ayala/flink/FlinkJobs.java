package dev.ayala.flink;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * What the harness's Flink SQL jobs share: a local MiniCluster's streaming table environment with
 * exactly-once checkpoints every second (retained on cancellation, so a job can be restored from
 * its last one), the `upsert-kafka` sink options with exactly-once delivery, and the job id line
 * the tests wait for.
 */
final class FlinkJobs {
  private FlinkJobs() {}

  /**
   * A streaming table environment: checkpoints every second into {@code checkpoints}, restored
   * from {@code restorePath} when it is given (not null, not empty).
   */
  static TableEnvironment environment(String checkpoints, int parallelism, String restorePath, String... settings) {
    Configuration conf = new Configuration();
    conf.setString("execution.checkpointing.interval", "1s");
    conf.setString("execution.checkpointing.mode", "EXACTLY_ONCE");
    conf.setString("execution.checkpointing.dir", "file://" + checkpoints);
    conf.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
    conf.setString("parallelism.default", Integer.toString(parallelism));
    conf.setString("rest.port", "0");
    for (int i = 0; i + 1 < settings.length; i += 2) conf.setString(settings[i], settings[i + 1]);
    if (restorePath != null && !restorePath.isEmpty()) conf.setString("execution.state-recovery.path", restorePath);
    return TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
  }

  /**
   * The start of an {@code upsert-kafka} table's WITH clause, exactly-once: the caller appends the
   * rest of its transactional-id prefix and closes it, e.g. {@code sink + "-s', 'topic' = 't')"}.
   */
  static String upsertSink(String brokers, String txPrefix) {
    return " WITH ('connector' = 'upsert-kafka', 'properties.bootstrap.servers' = '" + brokers + "',"
        + " 'key.format' = 'json', 'value.format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',"
        + " 'properties.transaction.timeout.ms' = '60000', 'sink.transactional-id-prefix' = '" + txPrefix;
  }

  /** Print the job's id (the tests wait for this line), then run until the job ends. */
  static void run(TableResult result) throws Exception {
    System.out.println("JOB " + result.getJobClient().get().getJobID());
    System.out.flush();
    result.await();
  }
}
