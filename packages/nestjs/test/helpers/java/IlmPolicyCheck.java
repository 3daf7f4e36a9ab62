/*
 * Parses and validates an ILM policy body with Elasticsearch's own code (x-pack-core's
 * PutLifecycleRequest parser, its validation, LifecyclePolicy.validate: the timeseries phases and
 * the actions each allows), as PUT _ilm/policy/<name> does. One request body per line on stdin
 * (one JVM for every case), the policy name as the argument; one line per body on stdout:
 * `ok <the parsed policy as JSON>` or `error <the exception and its causes>`.
 */
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.elasticsearch.common.Strings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.xcontent.NamedXContentRegistry;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentParser;
import org.elasticsearch.xcontent.XContentParserConfiguration;
import org.elasticsearch.xcontent.json.JsonXContent;
import org.elasticsearch.xpack.core.ilm.DeleteAction;
import org.elasticsearch.xpack.core.ilm.LifecycleAction;
import org.elasticsearch.xpack.core.ilm.LifecyclePolicy;
import org.elasticsearch.xpack.core.ilm.LifecycleType;
import org.elasticsearch.xpack.core.ilm.RolloverAction;
import org.elasticsearch.xpack.core.ilm.TimeseriesLifecycleType;
import org.elasticsearch.xpack.core.ilm.action.PutLifecycleRequest;

public class IlmPolicyCheck {
  public static void main(String[] args) throws Exception {
    org.elasticsearch.common.logging.LogConfigurator.configureESLogging();
    String name = args[0];
    NamedXContentRegistry registry = new NamedXContentRegistry(List.of(
      new NamedXContentRegistry.Entry(LifecycleType.class, new ParseField(TimeseriesLifecycleType.TYPE), p -> TimeseriesLifecycleType.INSTANCE),
      new NamedXContentRegistry.Entry(LifecycleAction.class, new ParseField(RolloverAction.NAME), RolloverAction::parse),
      new NamedXContentRegistry.Entry(LifecycleAction.class, new ParseField(DeleteAction.NAME), DeleteAction::parse)));
    String input = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
    for (String body : input.split("\n")) {
      if (body.isBlank()) continue;
      try {
        System.out.println("ok " + Strings.toString(check(registry, name, body)));
      } catch (Exception e) {
        StringBuilder message = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) message.append(t.getMessage()).append("; ");
        System.out.println("error " + message.toString().replace('\n', ' '));
      }
    }
  }

  static LifecyclePolicy check(NamedXContentRegistry registry, String name, String body) throws Exception {
    try (XContentParser parser = JsonXContent.jsonXContent.createParser(XContentParserConfiguration.EMPTY.withRegistry(registry), body)) {
      PutLifecycleRequest request = PutLifecycleRequest.parseRequest(new PutLifecycleRequest.Factory() {
        public PutLifecycleRequest create(LifecyclePolicy policy) { return new PutLifecycleRequest(TimeValue.THIRTY_SECONDS, TimeValue.THIRTY_SECONDS, policy); }
        public String getPolicyName() { return name; }
      }, parser);
      var invalid = request.validate();
      if (invalid != null) throw invalid;
      request.getPolicy().validate();
      return request.getPolicy();
    }
  }
}
