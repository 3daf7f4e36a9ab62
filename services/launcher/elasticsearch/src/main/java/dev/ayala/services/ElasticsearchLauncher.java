package dev.ayala.services;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.EmbeddedElasticsearchNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Boots a single Elasticsearch 9 node from the server jar and the Netty 4 module on the class
 * path. Arguments are {@code key=value} node settings; {@code path.home} is required.
 *
 * <p>The real product answers every REST response with {@code X-Elastic-Product: Elasticsearch}
 * (set by the server's RestController, not by a plugin), so the official JS client's product check
 * passes against this node. Only the modules Elastic publishes to Maven Central are here: no
 * analysis-common (no spanish/asciifolding/edge_ngram), no mapper-extras, no painless, no reindex.
 */
public final class ElasticsearchLauncher {

  public static void main(String[] args) throws Exception {
    // ES 9 routes its own logging API through a provider that must be installed before the first
    // logger is created; Bootstrap does this in the real distribution.
    LogConfigurator.configureESLogging();

    Settings.Builder builder = Settings.builder()
        .put("cluster.name", "ayala-dev")
        .put("node.name", "ayala-elasticsearch")
        .put("network.host", "127.0.0.1")
        .put("http.port", "9201")
        .put("transport.port", "9301")
        .put("discovery.type", "single-node")
        .put("cluster.routing.allocation.disk.threshold_enabled", "false")
        .put("action.auto_create_index", "true");
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("expected key=value, got: " + arg);
      }
      builder.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    Settings settings = builder.build();
    if (settings.get("path.home") == null) {
      throw new IllegalArgumentException("path.home=<dir> is required");
    }
    Path home = Path.of(settings.get("path.home"));
    Files.createDirectories(home.resolve("config"));
    Files.createDirectories(home.resolve("data"));
    Files.createDirectories(home.resolve("logs"));

    LogConfigurator.registerErrorListener();
    LogConfigurator.setNodeName(settings.get("node.name"));
    LogConfigurator.setClusterName(settings.get("cluster.name"));
    LogConfigurator.configureWithoutConfig(settings);

    Environment environment = InternalSettingsPreparer.prepareEnvironment(
        settings, Map.of(), home.resolve("config"), () -> settings.get("node.name"));
    Node node = new EmbeddedElasticsearchNode(environment, List.of(Netty4Plugin.class, RootInfoPlugin.class));

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        stopped.countDown();
      }
    }, "elasticsearch-shutdown"));

    node.start();
    System.out.println("ayala-services: elasticsearch started, http " + settings.get("http.port"));
    stopped.await();
  }

  private ElasticsearchLauncher() {}
}
