package io.weighbridge.domain.routing;

import io.weighbridge.domain.Rollout;
import java.util.Optional;

/**
 * Asked before the engine applies a SetWeight above 0: after the analyzer reverted a canary, a
 * SetWeight Argo had already under way (before it saw the abort) must not put traffic back on it.
 */
@FunctionalInterface
public interface WeightVeto {

  /**
   * Why the canary of {@code rollout} must stay at weight 0, or empty to let the call proceed. Must
   * be quick and must not throw.
   */
  Optional<String> vetoCanary(Rollout rollout, String pluginKey, int desiredWeight);
}
