package io.weighbridge.cli;

import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.RouterSettings;
import io.weighbridge.domain.routing.RoutingMetrics;
import java.util.List;

/**
 * Runs the real routing engine ({@link GatewayApiTrafficRouter}) for one Rollout on a {@link
 * PlanningRouteClient}: the engine reads the live routes and plans exactly as in plugin-server, and
 * nothing is written. Calls are made in Argo's reconcile order: header and mirror routes, then the
 * weight.
 */
public final class DryRun {

  /** The connector version the engine logs for calls the CLI makes. */
  static final String CLI_CALLER = "weighbridge-cli";

  private DryRun() {}

  /**
   * What Argo's SetHeaderRoute calls for {@code headerRoutes}, SetMirrorRoute calls for {@code
   * mirrorRoutes} and then SetWeight({@code weight}, {@code additional}) would write on the
   * Rollout's routes.
   *
   * @param planning reads the cluster (never written through) and records the patches; it keeps
   *     what was planned before a failure
   * @throws io.weighbridge.domain.WeighbridgeException as the engine would answer Argo
   */
  public static void plan(
      PlanningRouteClient planning,
      ArgoRollout rollout,
      List<HeaderRoute> headerRoutes,
      List<MirrorRoute> mirrorRoutes,
      int weight,
      List<WeightDestination> additional) {
    Caller caller = new Caller(rollout.pluginKey(), CLI_CALLER);
    try (GatewayApiTrafficRouter engine =
        new GatewayApiTrafficRouter(planning, RoutingMetrics.noop(), RouterSettings.defaults())) {
      for (HeaderRoute header : headerRoutes) {
        planning.startCall("SetHeaderRoute \"" + header.name() + "\"");
        engine.setHeaderRoute(caller, rollout.rollout(), header);
      }
      for (MirrorRoute mirror : mirrorRoutes) {
        planning.startCall("SetMirrorRoute \"" + mirror.name() + "\"");
        engine.setMirrorRoute(caller, rollout.rollout(), mirror);
      }
      planning.startCall("SetWeight " + weight);
      engine.setWeight(caller, rollout.rollout(), weight, additional);
    }
  }
}
