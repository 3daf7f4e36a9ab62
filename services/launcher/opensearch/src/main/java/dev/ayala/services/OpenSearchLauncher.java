package dev.ayala.services;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.join.ParentJoinPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Boots a single OpenSearch 2.19 node from the jars on the classpath.
 *
 * <p>How it works: a distribution's {@code bin/opensearch} goes through {@code Bootstrap}, which
 * installs the security manager, runs the bootstrap checks and loads each module from its own
 * class loader under {@code modules/}. None of that exists when the jars come from Maven. Instead,
 * the protected {@link Node} constructor takes <em>classpath plugins</em> (the path OpenSearch's own
 * integration tests use): the module plugin classes are instantiated from the application class
 * loader, and the extensible ones (painless) find their SPI extensions through ServiceLoader on that
 * same loader. {@code validateNodeBeforeAcceptingRequests} is a no-op in {@link Node} (only
 * {@code Bootstrap} overrides it), so bootstrap checks such as {@code vm.max_map_count} do not
 * apply, which is what a loopback-only development node wants.
 *
 * <p>Arguments are {@code key=value} node settings (like {@code -E} on the real CLI). The caller
 * passes at least {@code path.home}; everything else has a development default below.
 * SIGTERM runs the shutdown hook, which closes the node (flushes and releases the data dir lock).
 */
public final class OpenSearchLauncher {

  /** The modules a real distribution would load, minus the ones this harness has no use for. */
  static final List<Class<? extends Plugin>> MODULES = List.of(
      Netty4Plugin.class,
      CommonAnalysisPlugin.class,
      MapperExtrasPlugin.class,
      PainlessPlugin.class,
      ReindexPlugin.class,
      ParentJoinPlugin.class);

  static final class EmbeddedNode extends Node {
    EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
      super(environment, plugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    Settings.Builder builder = Settings.builder()
        .put("cluster.name", "ayala-dev")
        .put("node.name", "ayala-opensearch")
        .put("network.host", "127.0.0.1")
        .put("http.port", "9200")
        .put("transport.port", "9300")
        .put("discovery.type", "single-node")
        // A development node on a shared disk: never go read-only because the disk is "full".
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
    LogConfigurator.configureWithoutConfig(settings);

    Environment environment = InternalSettingsPreparer.prepareEnvironment(
        settings, Map.of(), home.resolve("config"), () -> settings.get("node.name"));
    Node node = new EmbeddedNode(environment, MODULES);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        stopped.countDown();
      }
    }, "opensearch-shutdown"));

    node.start();
    System.out.println("ayala-services: opensearch started, http " + settings.get("http.port"));
    stopped.await();
  }

  private OpenSearchLauncher() {}
}
