package io.weighbridge.server;

import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.domain.analysis.AnalysisConfigParser;
import io.weighbridge.domain.analysis.CanaryRouting;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.domain.routing.RoutePlan;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing engine as Argo and the canary analyzer see it: wraps {@link GatewayApiTrafficRouter}
 * from the wiring, so that routing never imports the analyzer. It asks the analyzer's vetoes before
 * a SetWeight above 0 and tells its listeners after a SetWeight succeeded; and it is the analyzer's
 * {@link CanaryRouting} port (the analysis block parsed here by the analyzer's own parser, the
 * routes from the engine, reverts through the same SetWeight path and per-route locks).
 */
public final class AnalyzedEngine implements TrafficRouter, CanaryRouting {
  private static final Logger LOG = LoggerFactory.getLogger(AnalyzedEngine.class);

  /** The connector version shown for the analyzer's own calls (logs only). */
  static final String ANALYZER_CALLER = "weighbridge-analyzer";

  /**
   * Told after the engine applied a SetWeight, so that the analyzer learns of a canary step at
   * once. Must be quick and must not throw.
   */
  @FunctionalInterface
  public interface WeightListener {
    /** Argo set the canary weight of {@code rollout} (under {@code pluginKey}) on every route. */
    void weightSet(Rollout rollout, String pluginKey, int desiredWeight);
  }

  /**
   * Asked before a SetWeight above 0: after the analyzer reverted a canary, a SetWeight Argo had
   * already under way must not put traffic back on it. Must be quick and must not throw.
   */
  @FunctionalInterface
  public interface WeightVeto {
    /** Why the canary of {@code rollout} must stay at 0, or empty to let the call proceed. */
    Optional<String> vetoCanary(Rollout rollout, String pluginKey, int desiredWeight);
  }

  private final GatewayApiTrafficRouter engine;
  private final List<WeightListener> listeners = new CopyOnWriteArrayList<>();
  private final List<WeightVeto> vetoes = new CopyOnWriteArrayList<>();

  /** Wraps {@code engine}; without listeners or vetoes it only delegates. */
  public AnalyzedEngine(GatewayApiTrafficRouter engine) {
    this.engine = Objects.requireNonNull(engine, "engine");
  }

  /** Tells {@code listener} of every SetWeight applied from now on. */
  public void addWeightListener(WeightListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /** Lets {@code veto} refuse SetWeight calls above 0. */
  public void addWeightVeto(WeightVeto veto) {
    vetoes.add(Objects.requireNonNull(veto, "veto"));
  }

  @Override
  public void initPlugin(Caller caller) {
    engine.initPlugin(caller);
  }

  @Override
  public void updateHash(
      Caller caller,
      Rollout rollout,
      String canaryHash,
      String stableHash,
      List<WeightDestination> additionalDestinations) {
    engine.updateHash(caller, rollout, canaryHash, stableHash, additionalDestinations);
  }

  @Override
  public void setWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    if (desiredWeight > 0) {
      for (WeightVeto veto : vetoes) {
        Optional<String> why = veto.vetoCanary(rollout, caller.pluginName(), desiredWeight);
        if (why.isPresent()) {
          throw new RejectedException(why.get());
        }
      }
    }
    engine.setWeight(caller, rollout, desiredWeight, additionalDestinations);
    for (WeightListener listener : listeners) {
      try {
        listener.weightSet(rollout, caller.pluginName(), desiredWeight);
      } catch (RuntimeException e) {
        LOG.warn("weight listener failed for Rollout {}", rollout.key(), e);
      }
    }
  }

  @Override
  public void setHeaderRoute(Caller caller, Rollout rollout, HeaderRoute headerRoute) {
    engine.setHeaderRoute(caller, rollout, headerRoute);
  }

  @Override
  public void setMirrorRoute(Caller caller, Rollout rollout, MirrorRoute mirrorRoute) {
    engine.setMirrorRoute(caller, rollout, mirrorRoute);
  }

  @Override
  public VerifyResult verifyWeight(
      Caller caller,
      Rollout rollout,
      int desiredWeight,
      List<WeightDestination> additionalDestinations) {
    return engine.verifyWeight(caller, rollout, desiredWeight, additionalDestinations);
  }

  @Override
  public void removeManagedRoutes(Caller caller, Rollout rollout) {
    engine.removeManagedRoutes(caller, rollout);
  }

  @Override
  public String type() {
    return engine.type();
  }

  @Override
  public boolean isReady() {
    return engine.isReady();
  }

  @Override
  public CanaryPlan plan(Rollout rollout, String pluginKey) {
    RoutePlan routes = engine.routePlan(rollout, pluginKey);
    String path = "plugins[\"" + pluginKey + "\"]";
    var config =
        AnalysisConfigParser.parse(
            rollout.json().at("/spec/strategy/canary/trafficRouting/plugins").path(pluginKey),
            path);
    return new CanaryPlan(
        config,
        routes.canaryService(),
        routes.stableService(),
        routes.routes().stream()
            .map(
                r ->
                    new RolloutAnalysisTarget.Route(
                        r.id().namespace(),
                        r.id().name(),
                        r.id().kind() == RouteKind.GRPC,
                        r.serviceParent()
                            ? RolloutAnalysisTarget.Plane.EAST_WEST
                            : RolloutAnalysisTarget.Plane.NORTH_SOUTH))
            .toList());
  }

  @Override
  public void revert(Rollout rollout, String pluginKey) {
    setWeight(new Caller(pluginKey, ANALYZER_CALLER), rollout, 0, List.of());
  }
}
