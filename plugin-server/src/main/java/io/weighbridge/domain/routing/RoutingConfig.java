package io.weighbridge.domain.routing;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One Rollout's traffic-routing configuration, parsed once per Rollout generation from its plugin
 * JSON and its canary strategy. Immutable.
 *
 * @param pluginKey the plugins map key the configuration was read from, e.g. {@code
 *     weighbridge/gateway-api}; named in messages
 * @param rolloutNamespace the Rollout's namespace, where the canary and stable Services live
 * @param canaryService spec.strategy.canary.canaryService
 * @param stableService spec.strategy.canary.stableService
 * @param maxTrafficWeight spec.strategy.canary.trafficRouting.maxTrafficWeight (default 100)
 * @param managedRouteNames the names in spec.strategy.canary.trafficRouting.managedRoutes
 * @param routes routes named in the configuration, deduplicated, in configuration order
 * @param selectors label selectors that discover further routes on every call
 * @param inProgressLabel the GitOps label set while a canary runs, or empty when disabled
 * @param verifyMode how VerifyWeight checks routes that do not override it
 */
record RoutingConfig(
    String pluginKey,
    String rolloutNamespace,
    String canaryService,
    String stableService,
    int maxTrafficWeight,
    Set<String> managedRouteNames,
    List<RouteRef> routes,
    List<RouteSelector> selectors,
    Optional<InProgressLabel> inProgressLabel,
    VerifyMode verifyMode) {

  /** Copies the collections. */
  RoutingConfig {
    managedRouteNames = Set.copyOf(managedRouteNames);
    routes = List.copyOf(routes);
    selectors = List.copyOf(selectors);
  }

  /** {@code plugins["<key>"]}, the prefix of every configuration path in messages. */
  String pluginPath() {
    return "plugins[\"" + pluginKey + "\"]";
  }

  /**
   * One route the configuration names.
   *
   * @param id which route
   * @param useHeaderRoutes whether Argo's managed (header and mirror) routes are added to it
   * @param ruleNames when non-empty, only these rules are changed; otherwise every rule that routes
   *     to both the canary and the stable Service
   * @param verifyMode how VerifyWeight checks this route
   * @param source where in the configuration it comes from, for messages
   */
  record RouteRef(
      RouteId id,
      boolean useHeaderRoutes,
      List<String> ruleNames,
      VerifyMode verifyMode,
      String source) {

    /** Copies the list. */
    RouteRef {
      ruleNames = List.copyOf(ruleNames);
    }
  }

  /**
   * A label selector that discovers routes of one kind in one namespace.
   *
   * @param kind the route kind
   * @param namespace where to look
   * @param matchLabels labels that must all be present with these values
   * @param matchExpressions further requirements, all of which must hold
   * @param source where in the configuration it comes from, for messages
   */
  record RouteSelector(
      RouteKind kind,
      String namespace,
      Map<String, String> matchLabels,
      List<LabelRequirement> matchExpressions,
      String source) {

    /** Copies the collections. */
    RouteSelector {
      matchLabels = Map.copyOf(matchLabels);
      matchExpressions = List.copyOf(matchExpressions);
    }

    /** True when {@code labels} satisfy every expression (matchLabels are checked by the port). */
    boolean matchesExpressions(Map<String, String> labels) {
      return matchExpressions.stream().allMatch(r -> r.matches(labels));
    }
  }

  /**
   * One Kubernetes label selector requirement (matchExpressions entry).
   *
   * @param key the label key
   * @param operator how the label is tested
   * @param values the values for In and NotIn; empty for Exists and DoesNotExist
   */
  record LabelRequirement(String key, Operator operator, Set<String> values) {

    /** Copies the set. */
    LabelRequirement {
      values = Set.copyOf(values);
    }

    /** Kubernetes semantics: NotIn and DoesNotExist hold for objects without the label. */
    boolean matches(Map<String, String> labels) {
      String value = labels.get(key);
      return switch (operator) {
        case IN -> value != null && values.contains(value);
        case NOT_IN -> value == null || !values.contains(value);
        case EXISTS -> value != null;
        case DOES_NOT_EXIST -> value == null;
      };
    }

    /** The selector operators Kubernetes defines. */
    enum Operator {
      /** The label is present with one of the values. */
      IN,
      /** The label is absent or has none of the values. */
      NOT_IN,
      /** The label is present. */
      EXISTS,
      /** The label is absent. */
      DOES_NOT_EXIST
    }
  }

  /**
   * The label that marks a route while a canary is in progress, so that GitOps tools can ignore the
   * weights we change.
   *
   * @param key the label key (default {@code rollouts.argoproj.io/gatewayapi-canary})
   * @param value the label value (default {@code in-progress})
   */
  record InProgressLabel(String key, String value) {}

  /** How VerifyWeight decides that a route carries the desired weights. */
  enum VerifyMode {
    /**
     * The spec carries the weights and every parent's controller has accepted that generation
     * (status.parents). The default.
     */
    STATUS("status"),
    /** Only the spec is checked: for controllers that never write route status. */
    SPEC("spec"),
    /** No check at all: VerifyWeight answers NotImplemented. */
    OFF("off");

    private final String configValue;

    VerifyMode(String configValue) {
      this.configValue = configValue;
    }

    /** The value as written in the configuration. */
    String configValue() {
      return configValue;
    }
  }
}
