package io.weighbridge.server;

import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The router of a plugin-server build without the routing engine: it answers honestly. InitPlugin
 * and Type succeed (they change nothing); every call that would change or check routes fails with
 * UNIMPLEMENTED, so Argo shows the reason in the Rollout's events instead of a fake success.
 */
public final class UnimplementedTrafficRouter implements TrafficRouter {
  private static final Logger log = LoggerFactory.getLogger(UnimplementedTrafficRouter.class);

  @Override
  public void initPlugin(Caller caller) {
    log.info(
        "connector started: plugin {} (connector {}); this build cannot change routes yet",
        caller.pluginName(),
        caller.connectorVersion());
  }

  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {
    throw notImplemented("UpdateHash", rollout);
  }

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    throw notImplemented("SetWeight", rollout);
  }

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {
    throw notImplemented("SetHeaderRoute", rollout);
  }

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {
    throw notImplemented("SetMirrorRoute", rollout);
  }

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    throw notImplemented("VerifyWeight", rollout);
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {
    throw notImplemented("RemoveManagedRoutes", rollout);
  }

  @Override
  public String type() {
    return "Weighbridge";
  }

  private static NotImplementedException notImplemented(String call, Rollout rollout) {
    return new NotImplementedException(
        call
            + " is not implemented by this plugin-server build yet, so rollout "
            + rollout.key()
            + " cannot move traffic through Weighbridge: deploy a plugin-server release that"
            + " includes the routing engine, or use another traffic router for this Rollout");
  }
}
