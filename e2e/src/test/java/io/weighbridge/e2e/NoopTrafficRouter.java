package io.weighbridge.e2e;

import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import java.util.List;

/**
 * A {@link TrafficRouter} that does nothing and succeeds at once: the bench measures the transport
 * (Argo's client, connector, gRPC contract adapter), not a routing engine.
 */
public final class NoopTrafficRouter implements TrafficRouter {

  @Override
  public void initPlugin(Caller caller) {}

  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {}

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {}

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {}

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {}

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    return VerifyResult.verified();
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {}

  @Override
  public String type() {
    return "WeighbridgeNoop";
  }
}
