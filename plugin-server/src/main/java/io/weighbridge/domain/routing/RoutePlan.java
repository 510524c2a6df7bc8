package io.weighbridge.domain.routing;

import java.util.List;
import java.util.Objects;

/**
 * What a Rollout's plugin configuration routes, for callers outside the engine (the analyzer's
 * wiring): its Services and the routes it shifts now, each with whether its parent is a Service.
 *
 * @param canaryService spec.strategy.canary.canaryService
 * @param stableService spec.strategy.canary.stableService
 * @param routes the routes, in configuration order
 */
public record RoutePlan(String canaryService, String stableService, List<PlannedRoute> routes) {

  /** Copies the list and checks the parts. */
  public RoutePlan {
    Objects.requireNonNull(canaryService, "canaryService");
    Objects.requireNonNull(stableService, "stableService");
    routes = List.copyOf(routes);
  }

  /**
   * One route the Rollout shifts.
   *
   * @param id the route
   * @param serviceParent whether a parentRef is a Service (GAMMA: east/west mesh traffic), as the
   *     route is now; false when it cannot be read
   */
  public record PlannedRoute(RouteId id, boolean serviceParent) {}
}
