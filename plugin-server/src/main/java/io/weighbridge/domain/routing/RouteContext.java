package io.weighbridge.domain.routing;

import io.weighbridge.domain.routing.RoutingConfig.InProgressLabel;
import java.util.List;
import java.util.Optional;

/**
 * Everything the pure planners need to know about one route in one call, besides the route object
 * itself.
 *
 * @param id the route
 * @param source where the configuration names it (or the selector that found it), for messages
 * @param rolloutKey the Rollout's {@code namespace/name}: the key of its bookkeeping entry
 * @param rolloutUid the Rollout's uid, recorded for operators
 * @param canary the canary Service
 * @param stable the stable Service
 * @param maxTrafficWeight the total weight
 * @param ruleNames when non-empty, exactly the rules to change
 * @param managedRoutesAllowed whether header and mirror rules may be added (useHeaderRoutes)
 * @param label the in-progress label, or empty when disabled
 * @param ruleNameField whether the served schema has spec.rules[].name
 * @param mirrorPercentField whether the served schema has requestMirror.percent
 */
record RouteContext(
    RouteId id,
    String source,
    String rolloutKey,
    String rolloutUid,
    ServiceRef canary,
    ServiceRef stable,
    int maxTrafficWeight,
    List<String> ruleNames,
    boolean managedRoutesAllowed,
    Optional<InProgressLabel> label,
    boolean ruleNameField,
    boolean mirrorPercentField) {

  /** Copies the list. */
  RouteContext {
    ruleNames = List.copyOf(ruleNames);
  }
}
