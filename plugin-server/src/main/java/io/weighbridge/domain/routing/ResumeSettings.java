package io.weighbridge.domain.routing;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How {@link GatewayApiTrafficRouter#resume} finds what to resume after a restart.
 *
 * @param pluginNames the plugin names whose configuration in a Rollout is ours, tried in order
 * @param namespaces the namespaces to look for routes in; empty for all namespaces (cluster-wide
 *     list/watch on the route kinds)
 * @param maxAttempts how many times a failed search is tried in all (at least 1)
 * @param firstBackoff the wait before the second attempt; it doubles after each failure, up to one
 *     minute
 */
public record ResumeSettings(
    List<String> pluginNames, Set<String> namespaces, int maxAttempts, Duration firstBackoff) {

  /** Copies and validates. */
  public ResumeSettings {
    pluginNames = List.copyOf(pluginNames);
    namespaces = Set.copyOf(namespaces);
    Objects.requireNonNull(firstBackoff, "firstBackoff");
    if (pluginNames.isEmpty()) {
      throw new IllegalArgumentException("pluginNames must name at least one plugin");
    }
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1, not " + maxAttempts);
    }
    if (firstBackoff.isNegative()) {
      throw new IllegalArgumentException("firstBackoff must not be negative");
    }
  }

  /** All namespaces, 8 attempts, 1 s before the second (about 2 minutes in all). */
  public static ResumeSettings allNamespaces(List<String> pluginNames) {
    return new ResumeSettings(pluginNames, Set.of(), 8, Duration.ofSeconds(1));
  }
}
