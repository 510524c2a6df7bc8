package io.weighbridge.domain;

import java.util.List;

/**
 * Argo's SetHeaderRoute step.
 *
 * @param name the managed route's name (listed in trafficRouting.managedRoutes)
 * @param matches conditions that must all hold; empty means "remove the managed route"
 */
public record HeaderRoute(String name, List<HeaderMatch> matches) {

  /** Copies the list. */
  public HeaderRoute {
    matches = List.copyOf(matches);
  }

  /** True when Argo asks to remove the route rather than set it. */
  public boolean isRemoval() {
    return matches.isEmpty();
  }

  /**
   * One header condition.
   *
   * @param headerName the header (gRPC: metadata key)
   * @param value how its value must match; null when Argo sent none
   */
  public record HeaderMatch(String headerName, StringMatch value) {}
}
