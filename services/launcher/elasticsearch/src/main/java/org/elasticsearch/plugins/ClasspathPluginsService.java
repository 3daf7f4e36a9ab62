package org.elasticsearch.plugins;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.spi.SPIClassIterator;

/**
 * A {@link PluginsService} whose plugins are classes on the application class path.
 *
 * <p>Why it lives in {@code org.elasticsearch.plugins}: Elasticsearch 9 loads plugins only from
 * bundles on disk ({@code modules/}, {@code plugins/}), each in its own module layer. The hooks a
 * classpath plugin needs ({@code LoadedPlugin}, {@code loadPlugin}, an empty {@code PluginsLoader})
 * are package-private; the published test framework's {@code MockPluginsService} reaches them the
 * same way, by sharing the package. On the class path everything is in the unnamed module, so the
 * split package is legal. This is a trimmed copy of that class, without the test framework (which
 * would drag JUnit, randomizedtesting and the Lucene test framework into a server process).
 */
public final class ClasspathPluginsService extends PluginsService {

  private final List<LoadedPlugin> classpathPlugins;

  public ClasspathPluginsService(Environment environment, Collection<Class<? extends Plugin>> pluginClasses) {
    super(environment.settings(), environment.configDir(), new PluginsLoader(java.util.Set.of(), java.util.Set.of(), Map.of()));
    List<LoadedPlugin> loaded = new ArrayList<>();
    for (Class<? extends Plugin> pluginClass : pluginClasses) {
      Plugin plugin = loadPlugin(pluginClass, environment.settings(), environment.configDir());
      PluginDescriptor descriptor = new PluginDescriptor(
          pluginClass.getName(),
          "classpath plugin",
          "NA",
          Build.current().version(),
          Integer.toString(Runtime.version().feature()),
          pluginClass.getName(),
          null,
          List.of(),
          false,
          false,
          false,
          false,
          PluginDescriptor.DeploymentTarget.ALL);
      loaded.add(new LoadedPlugin(descriptor, plugin, ClasspathPluginsService.class.getClassLoader()));
    }
    this.classpathPlugins = List.copyOf(loaded);
  }

  @Override
  protected List<LoadedPlugin> plugins() {
    return classpathPlugins;
  }

  @Override
  public PluginsAndModules info() {
    return new PluginsAndModules(
        classpathPlugins.stream().map(LoadedPlugin::descriptor).map(PluginRuntimeInfo::new).toList(), List.of());
  }

  /**
   * All plugins share one class loader here, so the SPI scan of one plugin finds every plugin's
   * providers: keep one instance per provider class and only those whose single-argument
   * constructor (if any) accepts this plugin.
   */
  @Override
  public <T> List<? extends T> loadServiceProviders(Class<T> service) {
    Map<Class<?>, T> result = new HashMap<>();
    for (LoadedPlugin loaded : plugins()) {
      Plugin plugin = loaded.instance();
      var classes = SPIClassIterator.get(service, plugin.getClass().getClassLoader());
      while (classes.hasNext()) {
        Class<? extends T> extensionClass = classes.next();
        if (result.containsKey(extensionClass)) {
          continue;
        }
        boolean compatible = true;
        for (var constructor : extensionClass.getConstructors()) {
          if (constructor.getParameterCount() == 1
              && !constructor.getParameterTypes()[0].isAssignableFrom(plugin.getClass())) {
            compatible = false;
            break;
          }
        }
        if (compatible) {
          result.put(extensionClass, createExtension(extensionClass, service, plugin));
        }
      }
    }
    return List.copyOf(result.values());
  }
}
