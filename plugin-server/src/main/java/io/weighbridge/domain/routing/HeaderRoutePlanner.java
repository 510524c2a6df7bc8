package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.routing.Ledger.RuleType;
import io.weighbridge.domain.routing.RuleSelection.Target;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Plans SetHeaderRoute on an HTTPRoute or GRPCRoute: for each rule that splits the Rollout's
 * traffic, one managed rule with the same matches (plus Argo's header conditions), filters,
 * timeouts and retry, sending everything to canary. Header routes coexist, even on the same header
 * (#215); repeating a call changes nothing (#151); removing one removes exactly its rules.
 */
final class HeaderRoutePlanner {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** RFC 7230 token characters, which is what Gateway API allows in header names. */
  private static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9!#$%&'*+\\-.^_`|~]+");

  /** Source-rule fields a managed rule copies besides matches; others stay with the source. */
  private static final List<String> COPIED_FIELDS = List.of("filters", "timeouts", "retry");

  private HeaderRoutePlanner() {}

  /**
   * Validates the step and converts Argo's conditions to Gateway API header matches (identical for
   * HTTP and gRPC): exact stays Exact, regex becomes RegularExpression, and prefix (which Gateway
   * API headers lack) becomes the RegularExpression {@code ^<quoted prefix>.*}.
   *
   * @throws InvalidConfigException naming the condition and the fix
   */
  static List<ObjectNode> headerMatches(HeaderRoute route, RoutingConfig config) {
    String what = "setHeaderRoute \"" + route.name() + "\"";
    checkManagedRouteName(route.name(), what, config);
    List<ObjectNode> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < route.matches().size(); i++) {
      HeaderMatch m = route.matches().get(i);
      String at = what + ".match[" + i + "]";
      if (m.headerName() == null || !HEADER_NAME.matcher(m.headerName()).matches()) {
        throw new InvalidConfigException(
            at
                + ".headerName must be a header name (letters, digits and !#$%&'*+-.^_`|~), not \""
                + m.headerName()
                + "\": fix the step");
      }
      if (!names.add(m.headerName().toLowerCase(Locale.ROOT))) {
        throw new InvalidConfigException(
            at
                + " repeats header "
                + m.headerName()
                + ": a request has one value per header; combine the conditions into one"
                + " regex, or use two header routes");
      }
      if (m.value() == null) {
        throw new InvalidConfigException(
            at + ".headerValue is missing: set exact, prefix or regex");
      }
      m.value().validate(at + ".headerValue");
      out.add(headerMatch(m.headerName(), m.value()));
    }
    return out;
  }

  /** A Gateway API header match for one of Argo's string matches (validated before). */
  static ObjectNode headerMatch(String name, StringMatch value) {
    ObjectNode h = NODES.objectNode();
    h.put("name", name);
    if (!value.exact().isEmpty()) {
      h.put("type", "Exact").put("value", value.exact());
    } else if (!value.prefix().isEmpty()) {
      h.put("type", "RegularExpression").put("value", "^" + quoteRegex(value.prefix()) + ".*");
    } else {
      h.put("type", "RegularExpression").put("value", value.regex());
    }
    return h;
  }

  /** Escapes the characters RE2 and Go regexp treat specially; no {@code \Q..\E}. */
  static String quoteRegex(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      if ("\\.+*?()|[]{}^$".indexOf(c) >= 0) {
        sb.append('\\');
      }
      sb.append(c);
    }
    return sb.toString();
  }

  /** Fails unless the name is listed in trafficRouting.managedRoutes (as Argo requires). */
  static void checkManagedRouteName(String name, String what, RoutingConfig config) {
    if (name == null || name.isEmpty()) {
      throw new InvalidConfigException(what + " has no name: give the step a name");
    }
    if (!config.managedRouteNames().contains(name)) {
      throw new InvalidConfigException(
          what
              + " is not listed in spec.strategy.canary.trafficRouting.managedRoutes: add {name: "
              + name
              + "} there (Argo and Weighbridge only manage routes listed there)");
    }
  }

  /**
   * Records the operations that make the route carry exactly this header route (or, with {@code
   * headerMatches} empty, not carry it any more).
   */
  static void plan(
      JsonPatchBuilder b,
      Ledger ledger,
      RouteContext ctx,
      String managedRoute,
      List<ObjectNode> headerMatches) {
    List<ObjectNode> desired = new ArrayList<>();
    if (!headerMatches.isEmpty()) {
      ArrayNode rules = RouteJson.rules(b.current());
      List<Target> targets =
          RuleSelection.targets(b.current(), ctx, RuleSelection.resolve(rules, ledger).all());
      for (int k = 0; k < targets.size(); k++) {
        Target t = targets.get(k);
        JsonNode source = rules.get(t.rule());
        ObjectNode rule = NODES.objectNode();
        if (ctx.ruleNameField()) {
          String name = ManagedRulePlanner.ruleName(managedRoute, k);
          ManagedRulePlanner.checkRuleName(name, "setHeaderRoute \"" + managedRoute + "\"");
          rule.put("name", name);
        }
        rule.set("matches", mergedMatches(source.path("matches"), headerMatches));
        for (String field : COPIED_FIELDS) {
          if (source.has(field)) {
            rule.set(field, source.get(field).deepCopy());
          }
        }
        ObjectNode canaryRef =
            (ObjectNode) source.path("backendRefs").get(t.canaryRef()).deepCopy();
        canaryRef.put("weight", 1);
        rule.putArray("backendRefs").add(canaryRef);
        desired.add(rule);
      }
    }
    // Appended: a header rule has one more header match than its source rule, so it wins on
    // Gateway API precedence wherever it sits, and user rules keep their positions.
    ManagedRulePlanner.reconcile(b, ledger, ctx, managedRoute, RuleType.HEADER, desired, -1);
  }

  /**
   * The source rule's matches, each with Argo's header conditions added (replacing any condition on
   * the same header, which could never hold together with ours); one match with only our headers
   * when the source has none.
   */
  private static ArrayNode mergedMatches(JsonNode sourceMatches, List<ObjectNode> headers) {
    ArrayNode out = NODES.arrayNode();
    List<JsonNode> sources = new ArrayList<>();
    sourceMatches.forEach(sources::add);
    if (sources.isEmpty()) {
      sources.add(NODES.objectNode());
    }
    Set<String> ours = new HashSet<>();
    headers.forEach(h -> ours.add(h.path("name").asText().toLowerCase(Locale.ROOT)));
    for (JsonNode source : sources) {
      ObjectNode match = (ObjectNode) source.deepCopy();
      ArrayNode merged = NODES.arrayNode();
      for (JsonNode h : source.path("headers")) {
        if (!ours.contains(h.path("name").asText().toLowerCase(Locale.ROOT))) {
          merged.add(h.deepCopy());
        }
      }
      headers.forEach(h -> merged.add(h.deepCopy()));
      match.set("headers", merged);
      out.add(match);
    }
    return out;
  }
}
