package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.cli.StatusReport.ManagedRule;
import io.weighbridge.cli.StatusReport.RolloutStatus;
import io.weighbridge.cli.StatusReport.RouteStatus;
import io.weighbridge.cli.StatusReport.RuleWeights;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteClient;
import io.weighbridge.domain.routing.RouteId;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Builds one Rollout's {@link RolloutStatus}: the routes its configuration resolves to and their
 * live weights, the rules it manages, and drift, found by a dry run of SetWeight with the weight
 * Argo last set (status.canary.weights): a route the engine would change differs from what Argo
 * wants. Uses the real engine on a {@link PlanningRouteClient}, so nothing is written.
 */
final class StatusBuilder {

  /** The route annotation holding Weighbridge's bookkeeping (domain.routing.Ledger). */
  static final String LEDGER_ANNOTATION = "weighbridge.io/managed";

  /** The incumbent plugin's in-progress label key, Weighbridge's default. */
  static final String DEFAULT_LABEL_KEY = "rollouts.argoproj.io/gatewayapi-canary";

  private static final ObjectMapper JSON = new ObjectMapper();

  private StatusBuilder() {}

  static RolloutStatus build(ArgoRollout rollout, RouteClient live, Optional<JsonNode> analysis) {
    PlanningRouteClient planning = new PlanningRouteClient(live);
    OptionalInt weight = rollout.statusCanaryWeight();
    String error = null;
    try {
      DryRun.plan(
          planning,
          rollout,
          List.of(),
          List.of(),
          weight.orElse(0),
          weight.isPresent() ? rollout.statusAdditionalDestinations() : List.of());
    } catch (WeighbridgeException e) {
      error = e.getMessage();
    }
    Map<RouteId, Integer> patchCounts = new HashMap<>();
    planning.patches().forEach(p -> patchCounts.merge(p.route(), 1, Integer::sum));
    List<RouteStatus> routes = new ArrayList<>();
    for (RouteId id : planning.routes()) {
      Optional<ObservedRoute> before = planning.live(id);
      if (before.isEmpty()) {
        routes.add(
            new RouteStatus(
                id.kind().kind(),
                id.namespace(),
                id.name(),
                false,
                List.of(),
                List.of(),
                null,
                null,
                List.of()));
        continue;
      }
      JsonNode object = before.get().object();
      Boolean drift = weight.isPresent() ? patchCounts.containsKey(id) : null;
      List<String> diff = List.of();
      if (Boolean.TRUE.equals(drift)) {
        diff =
            RouteText.diff(
                    "live",
                    RouteText.lines(object),
                    "wanted",
                    RouteText.lines(planning.after(id).orElseThrow().object()))
                .stream()
                .skip(2)
                .filter(l -> !l.startsWith("  "))
                .toList();
      }
      List<ManagedRule> managed = managedRules(object, rollout.key());
      routes.add(
          new RouteStatus(
              id.kind().kind(),
              id.namespace(),
              id.name(),
              true,
              ruleWeights(object, rollout, managed),
              managed,
              inProgressLabel(object, rollout),
              drift,
              diff));
    }
    return new RolloutStatus(
        rollout.rollout().namespace(),
        rollout.rollout().name(),
        rollout.pluginKey(),
        rollout.phase(),
        rollout.message(),
        rollout.paused(),
        rollout.aborted(),
        boxed(rollout.currentStep()),
        rollout.stepCount(),
        boxed(rollout.stepWeight()),
        boxed(weight),
        rollout.maxTrafficWeight(),
        rollout.weightsVerified().orElse(null),
        routes,
        error,
        analysis.orElse(null));
  }

  /** The rules that route to the Rollout's canary or stable Service, with both weights. */
  static List<RuleWeights> ruleWeights(
      JsonNode route, ArgoRollout rollout, List<ManagedRule> managed) {
    String routeNamespace = route.path("metadata").path("namespace").asText();
    String rolloutNamespace = rollout.rollout().namespace();
    List<RuleWeights> out = new ArrayList<>();
    JsonNode rules = route.path("spec").path("rules");
    for (int i = 0; i < rules.size(); i++) {
      JsonNode rule = rules.get(i);
      Integer stable = null;
      Integer canary = null;
      for (JsonNode ref : rule.path("backendRefs")) {
        String group = ref.path("group").asText("");
        if (!ref.path("kind").asText("Service").equals("Service")
            || !(group.isEmpty() || group.equals("core"))) {
          continue;
        }
        String ns = ref.path("namespace").asText(routeNamespace);
        if (!ns.equals(rolloutNamespace)) {
          continue;
        }
        int w = ref.path("weight").isNumber() ? ref.path("weight").asInt() : 1;
        String name = ref.path("name").asText();
        if (name.equals(rollout.stableService())) {
          stable = w;
        } else if (name.equals(rollout.canaryService())) {
          canary = w;
        }
      }
      if (stable == null && canary == null) {
        continue;
      }
      String ruleName = rule.path("name").isTextual() ? rule.path("name").asText() : null;
      String managedRoute =
          ruleName == null
              ? null
              : managed.stream()
                  .filter(m -> ruleName.equals(m.rule()))
                  .map(ManagedRule::managedRoute)
                  .findFirst()
                  .orElse(null);
      out.add(new RuleWeights(i, ruleName, stable, canary, managedRoute));
    }
    return out;
  }

  /** The header and mirror rules the Rollout's entry in the route's ledger records. */
  static List<ManagedRule> managedRules(JsonNode route, String rolloutKey) {
    JsonNode text = route.path("metadata").path("annotations").path(LEDGER_ANNOTATION);
    if (!text.isTextual()) {
      return List.of();
    }
    JsonNode ledger;
    try {
      ledger = JSON.readTree(text.asText());
    } catch (IOException e) {
      return List.of(
          new ManagedRule("(unreadable " + LEDGER_ANNOTATION + " annotation)", "", null));
    }
    List<ManagedRule> out = new ArrayList<>();
    for (JsonNode r : ledger.path("rollouts").path(rolloutKey).path("rules")) {
      out.add(
          new ManagedRule(
              r.path("managedRoute").asText(),
              r.path("type").asText(),
              r.path("name").isTextual() ? r.path("name").asText() : null));
    }
    return out;
  }

  private static String inProgressLabel(JsonNode route, ArgoRollout rollout) {
    JsonNode config =
        rollout
            .rollout()
            .json()
            .path("spec")
            .path("strategy")
            .path("canary")
            .path("trafficRouting")
            .path("plugins")
            .path(rollout.pluginKey());
    String key = config.path("inProgressLabelKey").asText(DEFAULT_LABEL_KEY);
    JsonNode value = route.path("metadata").path("labels").path(key);
    return value.isTextual() ? key + "=" + value.asText() : null;
  }

  private static Integer boxed(OptionalInt value) {
    return value.isPresent() ? value.getAsInt() : null;
  }
}
