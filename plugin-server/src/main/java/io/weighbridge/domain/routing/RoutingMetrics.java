package io.weighbridge.domain.routing;

import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.WeighbridgeException;

/**
 * What the routing engine counts. The domain only calls this interface; a Micrometer implementation
 * lives in the metrics adapter. Every method defaults to doing nothing.
 */
public interface RoutingMetrics {

  /** The engine operations that change routes. */
  enum Operation {
    /** SetWeight. */
    SET_WEIGHT,
    /** SetHeaderRoute. */
    SET_HEADER_ROUTE,
    /** SetMirrorRoute. */
    SET_MIRROR_ROUTE,
    /** RemoveManagedRoutes. */
    REMOVE_MANAGED_ROUTES,
    /** Restoring weights someone else changed while a canary runs. */
    DRIFT_RESTORE
  }

  /** Why VerifyWeight answered as it did; a low-cardinality label. */
  enum VerifyReason {
    /** Every route carries the weights and every parent accepted them. */
    VERIFIED,
    /** The user switched verification off. */
    DISABLED,
    /** A configured route does not exist. */
    ROUTE_MISSING,
    /** A route's spec does not carry the desired weights. */
    SPEC_MISMATCH,
    /** A route has no status for one of its parents (or no parents). */
    PARENT_STATUS_MISSING,
    /** A parent's controller has not processed the route's current generation yet. */
    STALE_GENERATION,
    /** A parent's controller does not accept the route. */
    NOT_ACCEPTED
  }

  /** A patch with changes was written to a route. */
  default void routeWritten(RouteId route, Operation operation) {}

  /** A call found the route already as desired and wrote nothing. */
  default void writeSkipped(RouteId route, Operation operation) {}

  /** Changing one route failed. */
  default void routeFailed(RouteId route, Operation operation, WeighbridgeException failure) {}

  /** Someone else changed weights we set during a canary, and we put them back. */
  default void driftRestored(RouteId route) {}

  /** VerifyWeight answered. */
  default void verifyOutcome(Verification verification, VerifyReason reason) {}

  /** A metrics sink that records nothing. */
  static RoutingMetrics noop() {
    return new RoutingMetrics() {};
  }
}
