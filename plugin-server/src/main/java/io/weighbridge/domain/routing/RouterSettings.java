package io.weighbridge.domain.routing;

import java.time.Duration;
import java.util.Objects;

/**
 * Tuning of {@link GatewayApiTrafficRouter}.
 *
 * @param lockTimeout how long a call waits for another call on the same route before it fails with
 *     a DeadlineException (Argo's calls have no timeout of their own)
 * @param driftMinInterval the least time between two drift restorations of one route, so that a
 *     tool fighting over the weights (e.g. a GitOps self-heal) cannot make us write in a loop
 * @param idleRolloutTimeout forget a Rollout (stop watching its routes) when Argo has not called
 *     about it for this long; Argo reconciles a running canary far more often
 * @param configCacheSize how many parsed Rollout configurations (by uid and generation) to keep
 */
public record RouterSettings(
    Duration lockTimeout,
    Duration driftMinInterval,
    Duration idleRolloutTimeout,
    int configCacheSize) {

  /** Validates the values. */
  public RouterSettings {
    Objects.requireNonNull(lockTimeout, "lockTimeout");
    Objects.requireNonNull(driftMinInterval, "driftMinInterval");
    Objects.requireNonNull(idleRolloutTimeout, "idleRolloutTimeout");
    if (lockTimeout.isNegative() || lockTimeout.isZero()) {
      throw new IllegalArgumentException("lockTimeout must be positive, not " + lockTimeout);
    }
    if (driftMinInterval.isNegative()) {
      throw new IllegalArgumentException("driftMinInterval must not be negative");
    }
    if (configCacheSize < 0) {
      throw new IllegalArgumentException("configCacheSize must not be negative");
    }
  }

  /** 10 s lock timeout, 1 s between drift restorations, 1 h idle timeout, 512 configurations. */
  public static RouterSettings defaults() {
    return new RouterSettings(
        Duration.ofSeconds(10), Duration.ofSeconds(1), Duration.ofHours(1), 512);
  }
}
