package io.weighbridge.domain;

import java.util.List;
import java.util.Map;

/**
 * Argo's SetMirrorRoute step.
 *
 * @param name the managed route's name (listed in trafficRouting.managedRoutes)
 * @param matches alternative conditions; empty means "remove the managed route"
 * @param percentage share of matching requests to mirror, or null when Argo sent none
 */
public record MirrorRoute(String name, List<RequestMatch> matches, Integer percentage) {

  /** Copies the list. */
  public MirrorRoute {
    matches = List.copyOf(matches);
  }

  /** True when Argo asks to remove the route rather than set it. */
  public boolean isRemoval() {
    return matches.isEmpty();
  }

  /**
   * One request condition; every non-null part must hold.
   *
   * @param method how the method must match, or null
   * @param path how the path must match, or null
   * @param headers header name to how its value must match
   */
  public record RequestMatch(
      StringMatch method, StringMatch path, Map<String, StringMatch> headers) {

    /** Copies the map. */
    public RequestMatch {
      headers = Map.copyOf(headers);
    }
  }
}
