package io.weighbridge.domain;

import java.util.List;

/**
 * The domain port behind the gRPC contract: one method per call Argo Rollouts makes on a
 * traffic-router plugin. Implementations must be thread-safe (Argo calls concurrently from up to 10
 * workers), idempotent (the same call repeats on every reconcile) and bounded in time. Failures are
 * reported by throwing a {@link WeighbridgeException}; anything else is treated as a bug and
 * reported as an internal error.
 */
public interface TrafficRouter {

  /** A connector process started; called once per process start. */
  void initPlugin(Caller caller);

  /** Records which pod-template hashes are canary and stable. */
  void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations);

  /**
   * Sends {@code desiredWeight} (in units of maxTrafficWeight) to canary on every configured route.
   */
  void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations);

  /** Adds, or with no matches removes, a managed header route. */
  void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute);

  /** Adds, or with no matches removes, a managed mirror route. */
  void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute);

  /** Tells whether the desired weights are in effect. */
  VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations);

  /** Removes every managed route added for the Rollout, and nothing else. */
  void removeManagedRoutes(Caller caller, Rollout rollout);

  /** The implementation's name, which Argo logs. */
  String type();

  /**
   * True when the router can serve calls (for example once its caches are filled); plugin-server's
   * {@code /readyz} reports not ready otherwise. A router with nothing to warm up is always ready.
   */
  default boolean isReady() {
    return true;
  }
}
