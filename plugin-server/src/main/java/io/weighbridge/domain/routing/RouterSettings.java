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
 * @param writeParallelism how many routes of one call are written at the same time (at least 1; 1
 *     writes them one after the other). Each route is still changed under its own lock, so calls on
 *     one route stay serialized; a higher value shortens calls on Rollouts with many routes at the
 *     cost of more concurrent requests to the API server
 */
public record RouterSettings(
    Duration lockTimeout,
    Duration driftMinInterval,
    Duration idleRolloutTimeout,
    int configCacheSize,
    int writeParallelism) {

  /** The default of {@link #writeParallelism()}. */
  public static final int DEFAULT_WRITE_PARALLELISM = 8;

  /** Settings with the default write parallelism ({@value #DEFAULT_WRITE_PARALLELISM}). */
  public RouterSettings(
      Duration lockTimeout,
      Duration driftMinInterval,
      Duration idleRolloutTimeout,
      int configCacheSize) {
    this(
        lockTimeout,
        driftMinInterval,
        idleRolloutTimeout,
        configCacheSize,
        DEFAULT_WRITE_PARALLELISM);
  }

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
    if (writeParallelism < 1) {
      throw new IllegalArgumentException(
          "writeParallelism must be at least 1 (1 writes routes one after the other), not "
              + writeParallelism);
    }
  }

  /**
   * 10 s lock timeout, 1 s between drift restorations, 1 h idle timeout, 512 configurations, 8
   * routes written at a time.
   */
  public static RouterSettings defaults() {
    return new RouterSettings(
        Duration.ofSeconds(10), Duration.ofSeconds(1), Duration.ofHours(1), 512);
  }

  /** The same settings with another write parallelism. */
  public RouterSettings withWriteParallelism(int parallelism) {
    return new RouterSettings(
        lockTimeout, driftMinInterval, idleRolloutTimeout, configCacheSize, parallelism);
  }
}
