package io.weighbridge.domain.routing;

import io.weighbridge.domain.Rollout;

/**
 * Told after the engine applied a SetWeight from Argo, so that the analyzer learns of a canary step
 * at once instead of waiting for the Rollout's status. Must be quick and must not throw.
 */
@FunctionalInterface
public interface WeightListener {

  /**
   * Argo set the canary weight of {@code rollout} (configured under {@code pluginKey}) to {@code
   * desiredWeight}, in units of its maxTrafficWeight; every route carries it.
   */
  void weightSet(Rollout rollout, String pluginKey, int desiredWeight);
}
