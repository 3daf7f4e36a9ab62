package org.elasticsearch.node;

import java.util.Collection;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * An Elasticsearch {@link Node} whose plugins come from the class path.
 *
 * <p>{@code NodeConstruction.prepareConstruction} and {@code NodeServiceProvider} are
 * package-private in ES 9 (the test framework's {@code MockNode} uses them from this package);
 * the service provider is the one seam that lets us swap the {@link PluginsService}. Passing a
 * {@code null} {@link PluginsLoader} is fine because our provider ignores it.
 *
 * <p>Nothing here initialises ES 9's entitlement agent (that is done by the real
 * {@code org.elasticsearch.bootstrap.Elasticsearch} main, with a JDK agent): the node runs
 * without sandboxing, as in the test framework. Bootstrap checks are skipped for the same reason
 * ({@code validateNodeBeforeAcceptingRequests} is a no-op outside {@code Bootstrap}).
 */
public final class EmbeddedElasticsearchNode extends Node {

  public EmbeddedElasticsearchNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
    super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
      @Override
      PluginsService newPluginService(Environment env, PluginsLoader ignored) {
        return new ClasspathPluginsService(env, plugins);
      }
    }, true));
  }
}
