package io.weighbridge.domain.routing;

import io.weighbridge.domain.Rollout;
import java.util.Optional;

/**
 * The engine's port for reading a Rollout by name, used when it resumes drift restoration after a
 * restart: a Rollout that no longer exists (or was re-created) must not have its last weights
 * enforced. Failures are {@link io.weighbridge.domain.WeighbridgeException}s.
 */
@FunctionalInterface
public interface RolloutLookup {

  /** The Rollout {@code namespace/name} as the cluster has it now, or empty when it is absent. */
  Optional<Rollout> find(String namespace, String name);
}
