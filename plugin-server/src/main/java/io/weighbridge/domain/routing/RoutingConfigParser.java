package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.Echo;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.analysis.AnalysisConfig;
import io.weighbridge.domain.analysis.AnalysisConfigParser;
import io.weighbridge.domain.routing.RoutingConfig.InProgressLabel;
import io.weighbridge.domain.routing.RoutingConfig.LabelRequirement;
import io.weighbridge.domain.routing.RoutingConfig.LabelRequirement.Operator;
import io.weighbridge.domain.routing.RoutingConfig.RouteRef;
import io.weighbridge.domain.routing.RoutingConfig.RouteSelector;
import io.weighbridge.domain.routing.RoutingConfig.VerifyMode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads a Rollout's plugin configuration. Accepts the exact schema of the argoproj-labs Gateway API
 * plugin plus Weighbridge's additions, rejects everything else with a message that names the JSON
 * path, what is wrong and how to fix it: a typo must never silently do nothing.
 *
 * <p>Top-level keys: {@code httpRoute|grpcRoute|tcpRoute|tlsRoute} (one name; header routes on),
 * {@code httpRoutes|grpcRoutes|tcpRoutes|tlsRoutes} ({@code [{name, useHeaderRoutes, namespace,
 * ruleNames, verifyWeight}]}), {@code httpRouteSelector|...} (label selectors), {@code namespace}
 * (default: the Rollout's), {@code disableInProgressLabel}, {@code inProgressLabelKey}, {@code
 * inProgressLabelValue}, {@code verifyWeight} ({@code status} (default), {@code spec} or {@code
 * off}), {@code analysis} (the canary analyzer's settings, read by {@link AnalysisConfigParser};
 * absent means the protective defaults).
 */
final class RoutingConfigParser {

  /**
   * The incumbent plugin's in-progress label key, kept so that GitOps ignore rules keep working.
   */
  static final String DEFAULT_LABEL_KEY = "rollouts.argoproj.io/gatewayapi-canary";

  /** The incumbent plugin's in-progress label value. */
  static final String DEFAULT_LABEL_VALUE = "in-progress";

  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern LABEL_NAME =
      Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");

  /** The configuration keys of one route kind; one table instead of one code block per kind. */
  private record KindKeys(RouteKind kind, String single, String list, String selector) {}

  private static final List<KindKeys> KIND_KEYS =
      List.of(
          new KindKeys(RouteKind.HTTP, "httpRoute", "httpRoutes", "httpRouteSelector"),
          new KindKeys(RouteKind.GRPC, "grpcRoute", "grpcRoutes", "grpcRouteSelector"),
          new KindKeys(RouteKind.TCP, "tcpRoute", "tcpRoutes", "tcpRouteSelector"),
          new KindKeys(RouteKind.TLS, "tlsRoute", "tlsRoutes", "tlsRouteSelector"));

  private static final List<String> TOP_LEVEL_KEYS = topLevelKeys();
  private static final List<String> ROUTE_KEYS =
      List.of("name", "useHeaderRoutes", "namespace", "ruleNames", "verifyWeight");
  private static final List<String> SELECTOR_KEYS = List.of("matchLabels", "matchExpressions");
  private static final List<String> EXPRESSION_KEYS = List.of("key", "operator", "values");

  private RoutingConfigParser() {}

  private static List<String> topLevelKeys() {
    List<String> keys = new ArrayList<>();
    for (KindKeys k : KIND_KEYS) {
      keys.add(k.single());
      keys.add(k.list());
      keys.add(k.selector());
    }
    keys.addAll(
        List.of(
            "namespace",
            "disableInProgressLabel",
            "inProgressLabelKey",
            "inProgressLabelValue",
            "verifyWeight",
            AnalysisConfigParser.KEY));
    return List.copyOf(keys);
  }

  /**
   * Parses the configuration the Rollout holds under {@code plugins[pluginKey]}.
   *
   * @throws InvalidConfigException naming the first wrong field and the fix
   */
  static RoutingConfig parse(Rollout rollout, String pluginKey) {
    JsonNode canary = rollout.json().path("spec").path("strategy").path("canary");
    if (!canary.isObject()) {
      throw new InvalidConfigException(
          "Rollout "
              + rollout.key()
              + " has no spec.strategy.canary: Weighbridge routes traffic for the canary strategy"
              + " only; use strategy.canary with trafficRouting.plugins[\""
              + pluginKey
              + "\"]");
    }
    String canaryService = requiredService(canary, "canaryService");
    String stableService = requiredService(canary, "stableService");
    if (canaryService.equals(stableService)) {
      throw new InvalidConfigException(
          "spec.strategy.canary.canaryService and stableService are both \""
              + canaryService
              + "\": they must name two different Services, one selecting the canary pods and one"
              + " the stable pods");
    }
    JsonNode trafficRouting = canary.path("trafficRouting");
    int maxTrafficWeight = maxTrafficWeight(trafficRouting);
    Set<String> managedRouteNames = managedRouteNames(trafficRouting);

    String path = "plugins[\"" + pluginKey + "\"]";
    JsonNode plugin = trafficRouting.path("plugins").path(pluginKey);
    if (plugin.isMissingNode() || plugin.isNull()) {
      throw new InvalidConfigException(
          "Rollout "
              + rollout.key()
              + " has no spec.strategy.canary.trafficRouting."
              + path
              + ": add this plugin's configuration under that key (the name the plugin has in"
              + " argo-rollouts-config), e.g. {\"httpRoute\": \"<HTTPRoute name>\"}");
    }
    if (!plugin.isObject()) {
      throw invalid(path, "must be an object", "e.g. {\"httpRoute\": \"<HTTPRoute name>\"}");
    }
    rejectUnknownKeys(plugin, path, TOP_LEVEL_KEYS);

    String namespace =
        optionalName(plugin, path, "namespace", DNS_LABEL, 63, "the routes' namespace")
            .orElse(rollout.namespace());
    VerifyMode verifyMode = verifyMode(plugin, path).orElse(VerifyMode.STATUS);

    Map<RouteId, RouteRef> routes = new LinkedHashMap<>();
    List<RouteSelector> selectors = new ArrayList<>();
    for (KindKeys keys : KIND_KEYS) {
      optionalName(
              plugin,
              path,
              keys.single(),
              DNS_SUBDOMAIN,
              253,
              "the " + keys.kind().kind() + "'s name")
          .ifPresent(
              name ->
                  addRoute(
                      routes,
                      new RouteRef(
                          new RouteId(keys.kind(), namespace, name),
                          true,
                          List.of(),
                          verifyMode,
                          path + "." + keys.single())));
      JsonNode list = plugin.get(keys.list());
      if (list != null && !list.isNull()) {
        String listPath = path + "." + keys.list();
        if (!list.isArray()) {
          throw invalid(
              listPath,
              "must be an array of objects",
              "write it as [{\"name\": \"<" + keys.kind().kind() + " name>\"}]");
        }
        for (int i = 0; i < list.size(); i++) {
          addRoute(
              routes,
              routeEntry(
                  list.get(i), listPath + "[" + i + "]", keys.kind(), namespace, verifyMode));
        }
      }
      JsonNode selector = plugin.get(keys.selector());
      if (selector != null && !selector.isNull()) {
        selectors.add(selector(selector, path + "." + keys.selector(), keys.kind(), namespace));
      }
    }
    if (routes.isEmpty() && selectors.isEmpty()) {
      throw invalid(
          path,
          "configures no route",
          "name at least one route, e.g. \"httpRoute\": \"<HTTPRoute name>\", or a selector such"
              + " as \"httpRouteSelector\": {\"matchLabels\": {...}}");
    }

    Optional<InProgressLabel> label = inProgressLabel(plugin, path);
    AnalysisConfig analysis = AnalysisConfigParser.parse(plugin, path);
    return new RoutingConfig(
        pluginKey,
        rollout.namespace(),
        canaryService,
        stableService,
        maxTrafficWeight,
        managedRouteNames,
        List.copyOf(routes.values()),
        selectors,
        label,
        verifyMode,
        analysis);
  }

  private static String requiredService(JsonNode canary, String field) {
    JsonNode node = canary.get(field);
    if (node == null || !node.isTextual() || node.asText().isBlank()) {
      throw new InvalidConfigException(
          "spec.strategy.canary."
              + field
              + " must name a Service: traffic routing needs both canaryService and stableService;"
              + " set it to the Service that selects the "
              + (field.startsWith("canary") ? "canary" : "stable")
              + " pods");
    }
    return node.asText();
  }

  private static int maxTrafficWeight(JsonNode trafficRouting) {
    JsonNode node = trafficRouting.get("maxTrafficWeight");
    if (node == null || node.isNull()) {
      return 100;
    }
    if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < 1) {
      throw new InvalidConfigException(
          "spec.strategy.canary.trafficRouting.maxTrafficWeight must be a positive integer (it is "
              + node
              + "): set it to the total weight, e.g. 100 or 1000, or remove it for 100");
    }
    return node.asInt();
  }

  private static Set<String> managedRouteNames(JsonNode trafficRouting) {
    JsonNode list = trafficRouting.get("managedRoutes");
    Set<String> names = new LinkedHashSet<>();
    if (list == null || list.isNull()) {
      return names;
    }
    if (list.isArray()) {
      for (JsonNode entry : list) {
        JsonNode name = entry.get("name");
        if (name != null && name.isTextual() && !name.asText().isEmpty()) {
          names.add(name.asText());
        }
      }
    }
    return names;
  }

  private static void addRoute(Map<RouteId, RouteRef> routes, RouteRef ref) {
    RouteRef existing = routes.get(ref.id());
    if (existing == null) {
      routes.put(ref.id(), ref);
      return;
    }
    if (!existing.ruleNames().equals(ref.ruleNames())
        || existing.verifyMode() != ref.verifyMode()) {
      throw invalid(
          ref.source(),
          "configures " + ref.id() + " again, differently from " + existing.source(),
          "list each route once");
    }
    routes.put(
        ref.id(),
        new RouteRef(
            existing.id(),
            existing.useHeaderRoutes() || ref.useHeaderRoutes(),
            existing.ruleNames(),
            existing.verifyMode(),
            existing.source()));
  }

  private static RouteRef routeEntry(
      JsonNode entry, String path, RouteKind kind, String defaultNamespace, VerifyMode verify) {
    if (!entry.isObject()) {
      throw invalid(
          path, "must be an object", "write it as {\"name\": \"<" + kind.kind() + " name>\"}");
    }
    rejectUnknownKeys(entry, path, ROUTE_KEYS);
    String name =
        optionalName(entry, path, "name", DNS_SUBDOMAIN, 253, "the " + kind.kind() + "'s name")
            .orElseThrow(
                () ->
                    invalid(
                        path + ".name",
                        "must be a non-empty string",
                        "set it to the " + kind.kind() + "'s name"));
    String namespace =
        optionalName(entry, path, "namespace", DNS_LABEL, 63, "the " + kind.kind() + "'s namespace")
            .orElse(defaultNamespace);
    boolean useHeaderRoutes = optionalBoolean(entry, path, "useHeaderRoutes").orElse(false);
    List<String> ruleNames = ruleNames(entry, path);
    VerifyMode mode = verifyMode(entry, path).orElse(verify);
    return new RouteRef(new RouteId(kind, namespace, name), useHeaderRoutes, ruleNames, mode, path);
  }

  private static List<String> ruleNames(JsonNode entry, String path) {
    JsonNode node = entry.get("ruleNames");
    if (node == null || node.isNull()) {
      return List.of();
    }
    String at = path + ".ruleNames";
    if (!node.isArray() || node.isEmpty()) {
      throw invalid(
          at,
          "must be a non-empty array of rule names",
          "list the names (spec.rules[].name) of the rules to change, or remove ruleNames to change"
              + " every rule that routes to both the canary and the stable Service");
    }
    Set<String> names = new LinkedHashSet<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode name = node.get(i);
      if (!name.isTextual()
          || name.asText().length() > 253
          || !DNS_SUBDOMAIN.matcher(name.asText()).matches()) {
        throw invalid(
            at + "[" + i + "]",
            "must be a rule name (lowercase letters, digits, '-' and '.'), not "
                + Echo.value(name.toString()),
            "use the value of the rule's spec.rules[].name");
      }
      if (!names.add(name.asText())) {
        throw invalid(
            at + "[" + i + "]", "repeats \"" + Echo.value(name.asText()) + "\"", "list it once");
      }
    }
    return List.copyOf(names);
  }

  private static RouteSelector selector(
      JsonNode node, String path, RouteKind kind, String namespace) {
    if (!node.isObject()) {
      throw invalid(
          path,
          "must be a label selector object",
          "write it as {\"matchLabels\": {\"<key>\": \"<value>\"}}");
    }
    rejectUnknownKeys(node, path, SELECTOR_KEYS);
    Map<String, String> matchLabels = new TreeMap<>();
    JsonNode labels = node.get("matchLabels");
    if (labels != null && !labels.isNull()) {
      if (!labels.isObject()) {
        throw invalid(
            path + ".matchLabels",
            "must be an object of label keys to values",
            "write it as {\"<key>\": \"<value>\"}");
      }
      for (Map.Entry<String, JsonNode> e : labels.properties()) {
        String at = path + ".matchLabels[\"" + e.getKey() + "\"]";
        checkLabelKey(e.getKey(), at);
        if (!e.getValue().isTextual() || !isLabelValue(e.getValue().asText())) {
          throw invalid(
              at,
              "must be a label value (a string of at most 63 letters, digits, '-', '_', '.'), not "
                  + e.getValue(),
              "quote the value, e.g. \"true\"");
        }
        matchLabels.put(e.getKey(), e.getValue().asText());
      }
    }
    List<LabelRequirement> expressions = new ArrayList<>();
    JsonNode exprs = node.get("matchExpressions");
    if (exprs != null && !exprs.isNull()) {
      if (!exprs.isArray()) {
        throw invalid(
            path + ".matchExpressions",
            "must be an array",
            "write it as [{\"key\": \"<key>\", \"operator\": \"In\", \"values\": [\"<value>\"]}]");
      }
      for (int i = 0; i < exprs.size(); i++) {
        expressions.add(expression(exprs.get(i), path + ".matchExpressions[" + i + "]"));
      }
    }
    if (matchLabels.isEmpty() && expressions.isEmpty()) {
      throw invalid(
          path,
          "is empty and would select every " + kind.kind() + " in namespace " + namespace,
          "add matchLabels or matchExpressions that select only this Rollout's routes");
    }
    return new RouteSelector(kind, namespace, matchLabels, expressions, path);
  }

  private static LabelRequirement expression(JsonNode node, String path) {
    if (!node.isObject()) {
      throw invalid(
          path,
          "must be an object",
          "write it as {\"key\": \"<key>\", \"operator\": \"In\", \"values\": [\"<value>\"]}");
    }
    rejectUnknownKeys(node, path, EXPRESSION_KEYS);
    JsonNode key = node.get("key");
    if (key == null || !key.isTextual()) {
      throw invalid(path + ".key", "must be a label key", "set it to the label to test");
    }
    checkLabelKey(key.asText(), path + ".key");
    JsonNode op = node.get("operator");
    Operator operator =
        switch (op == null || !op.isTextual() ? "" : op.asText()) {
          case "In" -> Operator.IN;
          case "NotIn" -> Operator.NOT_IN;
          case "Exists" -> Operator.EXISTS;
          case "DoesNotExist" -> Operator.DOES_NOT_EXIST;
          default ->
              throw invalid(
                  path + ".operator",
                  "must be one of In, NotIn, Exists, DoesNotExist (it is "
                      + (op == null ? "missing" : op.toString())
                      + ")",
                  "use one of those operators, spelled exactly so");
        };
    Set<String> values = new LinkedHashSet<>();
    JsonNode vals = node.get("values");
    if (vals != null && !vals.isNull()) {
      if (!vals.isArray()) {
        throw invalid(path + ".values", "must be an array of strings", "write [\"<value>\"]");
      }
      for (int i = 0; i < vals.size(); i++) {
        if (!vals.get(i).isTextual()) {
          throw invalid(path + ".values[" + i + "]", "must be a string", "quote it, e.g. \"true\"");
        }
        values.add(vals.get(i).asText());
      }
    }
    boolean needsValues = operator == Operator.IN || operator == Operator.NOT_IN;
    if (needsValues && values.isEmpty()) {
      throw invalid(
          path + ".values",
          "must list at least one value for operator " + op.asText(),
          "add the values, or use Exists / DoesNotExist");
    }
    if (!needsValues && !values.isEmpty()) {
      throw invalid(
          path + ".values",
          "must be empty for operator " + op.asText(),
          "remove values, or use In / NotIn");
    }
    return new LabelRequirement(key.asText(), operator, values);
  }

  private static Optional<InProgressLabel> inProgressLabel(JsonNode plugin, String path) {
    boolean disabled = optionalBoolean(plugin, path, "disableInProgressLabel").orElse(false);
    String key = optionalString(plugin, path, "inProgressLabelKey").orElse("");
    String value = optionalString(plugin, path, "inProgressLabelValue").orElse("");
    if (key.isEmpty()) {
      key = DEFAULT_LABEL_KEY;
    } else {
      checkLabelKey(key, path + ".inProgressLabelKey");
    }
    if (value.isEmpty()) {
      value = DEFAULT_LABEL_VALUE;
    } else if (!isLabelValue(value)) {
      throw invalid(
          path + ".inProgressLabelValue",
          "is not a valid label value (at most 63 letters, digits, '-', '_', '.', starting and"
              + " ending with a letter or digit)",
          "use e.g. \"" + DEFAULT_LABEL_VALUE + "\", or remove it for the default");
    }
    return disabled ? Optional.empty() : Optional.of(new InProgressLabel(key, value));
  }

  private static Optional<VerifyMode> verifyMode(JsonNode node, String path) {
    JsonNode v = node.get("verifyWeight");
    if (v == null || v.isNull()) {
      return Optional.empty();
    }
    for (VerifyMode mode : VerifyMode.values()) {
      if (v.isTextual() && v.asText().equals(mode.configValue())) {
        return Optional.of(mode);
      }
    }
    throw invalid(
        path + ".verifyWeight",
        "must be \"status\", \"spec\" or \"off\" (it is " + v + ")",
        "use \"status\" (default: weights in the spec and accepted by every parent's controller),"
            + " \"spec\" (when no controller writes route status) or \"off\"");
  }

  private static void checkLabelKey(String key, String path) {
    int slash = key.indexOf('/');
    String prefix = slash < 0 ? "" : key.substring(0, slash);
    String name = slash < 0 ? key : key.substring(slash + 1);
    boolean ok =
        (slash < 0 || (prefix.length() <= 253 && DNS_SUBDOMAIN.matcher(prefix).matches()))
            && name.length() <= 63
            && LABEL_NAME.matcher(name).matches();
    if (!ok) {
      throw invalid(
          path,
          "\"" + key + "\" is not a valid label key",
          "use [<DNS prefix>/]<name> with a name of at most 63 letters, digits, '-', '_', '.',"
              + " e.g. \""
              + DEFAULT_LABEL_KEY
              + "\"");
    }
  }

  private static boolean isLabelValue(String value) {
    return value.isEmpty() || (value.length() <= 63 && LABEL_NAME.matcher(value).matches());
  }

  private static void rejectUnknownKeys(JsonNode node, String path, List<String> known) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!known.contains(key)) {
        throw invalid(
            path + "." + Echo.value(key),
            "is not a known key",
            "fix the spelling; known keys here are " + String.join(", ", known));
      }
    }
  }

  private static Optional<String> optionalString(JsonNode node, String path, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return Optional.empty();
    }
    if (!v.isTextual()) {
      throw invalid(
          path + "." + field,
          "must be a string (it is " + Echo.value(v.toString()) + ")",
          "quote the value");
    }
    return Optional.of(v.asText());
  }

  private static Optional<String> optionalName(
      JsonNode node, String path, String field, Pattern pattern, int maxLength, String what) {
    Optional<String> value = optionalString(node, path, field);
    if (value.isPresent()) {
      String s = value.get();
      if (s.isEmpty()) {
        throw invalid(path + "." + field, "must be a non-empty string", "set it to " + what);
      }
      if (s.length() > maxLength || !pattern.matcher(s).matches()) {
        throw invalid(
            path + "." + field,
            "\""
                + Echo.value(s)
                + "\" is not a valid Kubernetes name (lowercase letters, digits and '-', at most "
                + maxLength
                + " characters)",
            "set it to " + what + " exactly as in metadata");
      }
    }
    return value;
  }

  private static Optional<Boolean> optionalBoolean(JsonNode node, String path, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return Optional.empty();
    }
    if (!v.isBoolean()) {
      throw invalid(
          path + "." + field, "must be true or false (it is " + v + ")", "write true or false");
    }
    return Optional.of(v.asBoolean());
  }

  private static InvalidConfigException invalid(String path, String problem, String fix) {
    return new InvalidConfigException(path + " " + problem + ": " + fix);
  }
}
