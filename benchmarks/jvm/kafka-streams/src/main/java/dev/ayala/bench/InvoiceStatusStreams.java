package dev.ayala.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams side of the metrics-engines benchmark: the invoice events topic (JSON, keyed
 * by invoice, as `createEventProducer` writes them) -> one delta per row (the new state +1 and its
 * cents, a correction's previous state -1 and minus its cents, the same deltas the embedded
 * consumer's delta-mode view applies) -> groupBy status -> aggregate (count, sum of cents) in a
 * RocksDB store with its changelog -> toStream().to(changelog topic), with
 * processing.guarantee=exactly_once_v2 and one stream thread (every other setting the default:
 * commit.interval.ms 100 under EOS, a 10 MB record cache in front of the store).
 *
 * The output rows have the shape of Flink's upsert-kafka rows: key {"status":"paid"}, value
 * {"invoices":N,"amount_cents":S}, so one changelog view (docs/metrics-changelog.md) reads both.
 *
 * Prints "STARTED" when KafkaStreams.start() is called and "RUNNING" at the first RUNNING state
 * (the group joined, tasks assigned), on stdout; runs until SIGTERM.
 *
 * args: brokers sourceTopic changelogTopic applicationId stateDir
 */
public final class InvoiceStatusStreams {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Two longs (count, sum of cents): a delta, and the aggregate. */
  static final class PairSerde implements Serde<long[]> {
    @Override
    public Serializer<long[]> serializer() {
      return (topic, v) -> v == null ? null : ByteBuffer.allocate(16).putLong(v[0]).putLong(v[1]).array();
    }

    @Override
    public Deserializer<long[]> deserializer() {
      return (topic, b) -> {
        if (b == null) return null;
        ByteBuffer buffer = ByteBuffer.wrap(b);
        return new long[] {buffer.getLong(), buffer.getLong()};
      };
    }
  }

  static List<KeyValue<String, long[]>> deltas(String value) {
    List<KeyValue<String, long[]>> out = new ArrayList<>(2);
    try {
      JsonNode event = JSON.readTree(value);
      long cents = event.get("amountCents").asLong();
      out.add(KeyValue.pair(event.get("status").asText(), new long[] {1, cents}));
      JsonNode previous = event.get("previous");
      if (previous != null && !previous.isNull()) {
        out.add(KeyValue.pair(previous.get("status").asText(), new long[] {-1, -previous.get("amountCents").asLong()}));
      }
    } catch (Exception e) {
      throw new IllegalArgumentException("not an invoice event: " + value, e);
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    String brokers = args[0], source = args[1], changelog = args[2], applicationId = args[3], stateDir = args[4];
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    PairSerde pairs = new PairSerde();
    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(source, Consumed.with(Serdes.String(), Serdes.String()))
        .flatMap((invoice, value) -> deltas(value))
        .groupByKey(Grouped.with("by-status", Serdes.String(), pairs))
        .aggregate(
            () -> new long[] {0, 0},
            (status, delta, total) -> new long[] {total[0] + delta[0], total[1] + delta[1]},
            Materialized.with(Serdes.String(), pairs))
        .toStream()
        .map((status, total) -> KeyValue.pair(
            "{\"status\":" + JSON.valueToTree(status) + "}",
            "{\"invoices\":" + total[0] + ",\"amount_cents\":" + total[1] + "}"))
        .to(changelog, Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(error -> {
      System.err.println("FAILED " + error);
      error.printStackTrace();
      stopped.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    final boolean[] running = {false};
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && !running[0]) {
        running[0] = true;
        System.out.println("RUNNING");
        System.out.flush();
      }
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    // Leave the group on close (Streams stays a member until its session times out otherwise),
    // so the benchmark can delete the group right after.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
          .withTimeout(Duration.ofSeconds(10)));
      stopped.countDown();
    }));
    streams.cleanUp();
    streams.start();
    System.out.println("STARTED");
    System.out.flush();
    stopped.await();
    System.exit(running[0] ? 0 : 1);
  }
}
