import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Writes what a Java service writes, for the metrics-stream interop tests. Arguments: bootstrap
 * servers, topic, compression.type, number of producers, transactional.id prefix ("-": not
 * transactional), optionally batch.size. Standard input, one command per line, fields
 * tab-separated, bytes in base64 ("-" for null): SEND producer partition("-": the default
 * partitioner) key value headers(name=value,... or "-"); BEGIN / COMMIT / ABORT / FLUSH producer.
 * Prints "OK <records sent>" and exits 0 once every send is acknowledged; any failure exits 1.
 */
public final class RecordWriter {
  public static void main(String[] args) throws Exception {
    Base64.Decoder b64 = Base64.getDecoder();
    List<KafkaProducer<byte[], byte[]>> producers = new ArrayList<>();
    for (int i = 0; i < Integer.parseInt(args[3]); i++) {
      Properties p = new Properties();
      p.put("bootstrap.servers", args[0]);
      p.put("compression.type", args[2]);
      p.put("acks", "all");
      p.put("enable.idempotence", "true");
      p.put("linger.ms", "20");
      if (args.length > 5) p.put("batch.size", args[5]);
      if (!args[4].equals("-")) p.put("transactional.id", args[4] + "-" + i);
      KafkaProducer<byte[], byte[]> producer =
          new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
      if (!args[4].equals("-")) producer.initTransactions();
      producers.add(producer);
    }
    AtomicReference<Exception> failure = new AtomicReference<>();
    int sent = 0;
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.isEmpty()) continue;
      String[] f = line.split("\t", -1);
      KafkaProducer<byte[], byte[]> producer = producers.get(Integer.parseInt(f[1]));
      switch (f[0]) {
        case "BEGIN" -> producer.beginTransaction();
        case "COMMIT" -> producer.commitTransaction();
        case "ABORT" -> producer.abortTransaction();
        case "FLUSH" -> producer.flush();
        case "SEND" -> {
          RecordHeaders headers = new RecordHeaders();
          if (!f[5].equals("-")) {
            for (String h : f[5].split(",")) {
              String[] kv = h.split("=", 2);
              headers.add(kv[0], b64.decode(kv[1]));
            }
          }
          Integer partition = f[2].equals("-") ? null : Integer.valueOf(f[2]);
          byte[] key = f[3].equals("-") ? null : b64.decode(f[3]);
          byte[] value = f[4].equals("-") ? null : b64.decode(f[4]);
          producer.send(
              new ProducerRecord<>(args[1], partition, key, value, headers),
              (metadata, error) -> {
                if (error != null) failure.compareAndSet(null, error);
              });
          sent++;
        }
        default -> throw new IllegalArgumentException("Unknown command: " + f[0]);
      }
    }
    for (KafkaProducer<byte[], byte[]> producer : producers) producer.close();
    if (failure.get() != null) throw failure.get();
    System.out.println("OK " + sent);
  }
}
