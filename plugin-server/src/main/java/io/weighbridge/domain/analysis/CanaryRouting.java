package io.weighbridge.domain.analysis;

import io.weighbridge.domain.Rollout;
import java.util.List;
import java.util.Objects;

/**
 * The analyzer's port to the routing engine: what a Rollout's plugin configuration says (analysis
 * settings, Services, routes with their plane) and the revert action. The engine implements it, so
 * that a revert takes the same per-route locks as Argo's own calls.
 */
public interface CanaryRouting {

  /**
   * Reads the Rollout's plugin configuration under {@code pluginKey} and resolves its routes.
   *
   * @throws io.weighbridge.domain.WeighbridgeException when the configuration is invalid or the
   *     routes cannot be resolved
   */
  CanaryPlan plan(Rollout rollout, String pluginKey);

  /**
   * Sets the canary weight to 0 on every route of the Rollout, as a SetWeight(0) from Argo would.
   *
   * @throws io.weighbridge.domain.WeighbridgeException when a route cannot be changed
   */
  void revert(Rollout rollout, String pluginKey);

  /**
   * A Rollout's analysis inputs, from its plugin configuration and its routes.
   *
   * @param config the {@code analysis} settings (defaults when absent)
   * @param canaryService spec.strategy.canary.canaryService
   * @param stableService spec.strategy.canary.stableService
   * @param routes the routes the plugin shifts, with plane and protocol
   */
  record CanaryPlan(
      AnalysisConfig config,
      String canaryService,
      String stableService,
      List<RolloutAnalysisTarget.Route> routes) {

    /** Copies the list and checks the parts. */
    public CanaryPlan {
      Objects.requireNonNull(config, "config");
      Objects.requireNonNull(canaryService, "canaryService");
      Objects.requireNonNull(stableService, "stableService");
      routes = List.copyOf(routes);
    }
  }
}
