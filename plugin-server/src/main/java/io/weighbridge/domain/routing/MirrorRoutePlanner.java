package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.routing.Ledger.RuleType;
import io.weighbridge.domain.routing.RuleSelection.Target;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Plans SetMirrorRoute on an HTTPRoute: one managed rule that carries Argo's matches, sends the
 * matching requests to the stable backend and mirrors them to the canary Service with a
 * RequestMirror filter, placed before the first rule that splits the Rollout's traffic. Only
 * HTTPRoute: Argo's matches are HTTP method/path/header conditions, which GRPCRoute, TCPRoute and
 * TLSRoute cannot express, so those routes are skipped.
 */
final class MirrorRoutePlanner {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");

  private MirrorRoutePlanner() {}

  /**
   * Validates the step and converts Argo's matches to HTTPRoute matches: one match per Argo match
   * (any of them mirrors). Method: exact only. Path: exact becomes Exact, prefix becomes PathPrefix
   * (which matches whole path segments: {@code /api} matches {@code /api/x}, not {@code /apix}),
   * regex becomes RegularExpression. Headers as in header routes.
   *
   * @throws InvalidConfigException naming the condition and the fix
   */
  static List<ObjectNode> matches(MirrorRoute route, RoutingConfig config) {
    String what = "setMirrorRoute \"" + route.name() + "\"";
    HeaderRoutePlanner.checkManagedRouteName(route.name(), what, config);
    Integer pct = route.percentage();
    if (pct != null && (pct < 0 || pct > 100)) {
      throw new InvalidConfigException(
          what + ".percentage is " + pct + ": set a percentage between 0 and 100");
    }
    List<ObjectNode> out = new ArrayList<>();
    for (int i = 0; i < route.matches().size(); i++) {
      out.add(match(route.matches().get(i), what + ".match[" + i + "]"));
    }
    return out;
  }

  private static ObjectNode match(RequestMatch m, String at) {
    ObjectNode match = NODES.objectNode();
    ObjectNode path = match.putObject("path");
    if (m.path() == null || isEmpty(m.path())) {
      path.put("type", "PathPrefix").put("value", "/");
    } else {
      m.path().validate(at + ".path");
      String type;
      String value;
      if (!m.path().exact().isEmpty()) {
        type = "Exact";
        value = m.path().exact();
      } else if (!m.path().prefix().isEmpty()) {
        type = "PathPrefix";
        value = m.path().prefix();
      } else {
        type = "RegularExpression";
        value = m.path().regex();
      }
      if (!type.equals("RegularExpression") && !value.startsWith("/")) {
        throw new InvalidConfigException(
            at + ".path must start with '/' (it is \"" + value + "\"): fix the step");
      }
      path.put("type", type).put("value", value);
    }
    if (m.method() != null && !isEmpty(m.method())) {
      m.method().validate(at + ".method");
      String method = m.method().exact().toUpperCase(Locale.ROOT);
      if (m.method().exact().isEmpty() || !METHODS.contains(method)) {
        throw new InvalidConfigException(
            at
                + ".method must be an exact HTTP method (one of "
                + String.join(", ", METHODS.stream().sorted().toList())
                + "): HTTPRoute matches methods exactly, without prefix or regex");
      }
      match.put("method", method);
    }
    if (!m.headers().isEmpty()) {
      ArrayNode headers = match.putArray("headers");
      for (Map.Entry<String, StringMatch> h : new TreeMap<>(m.headers()).entrySet()) {
        if (h.getValue() == null) {
          throw new InvalidConfigException(
              at + ".headers[\"" + h.getKey() + "\"] has no value: set exact, prefix or regex");
        }
        h.getValue().validate(at + ".headers[\"" + h.getKey() + "\"]");
        headers.add(HeaderRoutePlanner.headerMatch(h.getKey(), h.getValue()));
      }
    }
    return match;
  }

  private static boolean isEmpty(StringMatch m) {
    return m.exact().isEmpty() && m.prefix().isEmpty() && m.regex().isEmpty();
  }

  /**
   * Records the operations that make the route carry exactly this mirror route (or, with {@code
   * matches} empty, not carry it any more).
   *
   * @throws InvalidConfigException when Argo asks for a percentage the served schema cannot hold
   */
  static void plan(
      JsonPatchBuilder b,
      Ledger ledger,
      RouteContext ctx,
      String managedRoute,
      List<ObjectNode> matches,
      Integer percentage) {
    List<ObjectNode> desired = new ArrayList<>();
    int insertAt = -1;
    if (!matches.isEmpty()) {
      boolean partial = percentage != null && percentage < 100;
      if (partial && !ctx.mirrorPercentField()) {
        throw new InvalidConfigException(
            "setMirrorRoute \""
                + managedRoute
                + "\" asks to mirror "
                + percentage
                + "% but the "
                + ctx.id().kind().kind()
                + " schema this cluster serves has no requestMirror.percent (Gateway API before"
                + " v1.3 standard / v1.2 experimental), so "
                + ctx.id()
                + " would mirror 100%: install newer Gateway API CRDs, or remove percentage from"
                + " the step");
      }
      ArrayNode rules = RouteJson.rules(b.current());
      List<Target> targets =
          RuleSelection.targets(b.current(), ctx, RuleSelection.resolve(rules, ledger).all());
      Target t = targets.getFirst();
      insertAt = t.rule();
      JsonNode source = rules.get(t.rule());
      JsonNode canaryRef = source.path("backendRefs").get(t.canaryRef());
      ObjectNode stableRef = (ObjectNode) source.path("backendRefs").get(t.stableRef()).deepCopy();
      stableRef.put("weight", 1);

      ObjectNode rule = NODES.objectNode();
      if (ctx.ruleNameField()) {
        ManagedRulePlanner.checkRuleName(managedRoute, "setMirrorRoute \"" + managedRoute + "\"");
        rule.put("name", managedRoute);
      }
      ArrayNode ms = rule.putArray("matches");
      matches.forEach(m -> ms.add(m.deepCopy()));
      ObjectNode mirror = rule.putArray("filters").addObject();
      mirror.put("type", "RequestMirror");
      ObjectNode requestMirror = mirror.putObject("requestMirror");
      ObjectNode target = requestMirror.putObject("backendRef");
      target.put("group", "").put("kind", "Service").put("name", ctx.canary().name());
      if (!ctx.canary().namespace().equals(ctx.id().namespace())) {
        target.put("namespace", ctx.canary().namespace());
      }
      if (canaryRef.has("port")) {
        target.set("port", canaryRef.get("port").deepCopy());
      }
      if (partial) {
        requestMirror.put("percent", percentage);
      }
      rule.putArray("backendRefs").add(stableRef);
      desired.add(rule);
    }
    // Inserted before the rule it shadows: Argo's match may be exactly as specific as that rule's
    // (e.g. any path), and Gateway API gives ties to the first rule, so appended it could never
    // match. This moves the later rules down by one while the mirror step lasts.
    ManagedRulePlanner.reconcile(b, ledger, ctx, managedRoute, RuleType.MIRROR, desired, insertAt);
  }
}
