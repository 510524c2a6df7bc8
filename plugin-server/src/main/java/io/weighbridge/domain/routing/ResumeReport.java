package io.weighbridge.domain.routing;

import java.util.Map;
import java.util.Set;

/**
 * What {@link GatewayApiTrafficRouter#resume} did.
 *
 * @param resumed the Rollouts (namespace/name) whose routes are watched again with the weights
 *     their ledger records
 * @param skipped the Rollouts found in a ledger but not resumed, each with why
 */
public record ResumeReport(Set<String> resumed, Map<String, String> skipped) {

  /** Copies the collections. */
  public ResumeReport {
    resumed = Set.copyOf(resumed);
    skipped = Map.copyOf(skipped);
  }
}
