package io.weighbridge.domain.analysis;

import io.weighbridge.domain.Rollout;

/**
 * The analyzer's port for acting on a Rollout in the cluster: abort and pause as {@code kubectl
 * argo rollouts} does, and Events with the evidence. All failures are {@link
 * io.weighbridge.domain.WeighbridgeException}s.
 */
public interface RolloutActions {

  /** Aborts the Rollout (Argo then sends all traffic to stable and scales the canary down). */
  void abort(String namespace, String name);

  /** Pauses the Rollout at its current step (the canary keeps its weight). */
  void pause(String namespace, String name);

  /**
   * Records a Kubernetes Event on the Rollout.
   *
   * @param warning true for a Warning Event, false for Normal
   * @param reason a CamelCase reason, e.g. {@code WeighbridgeCanaryAborted}
   * @param message the evidence, shortened by the adapter if the API limits it
   */
  void event(Rollout rollout, boolean warning, String reason, String message);
}
