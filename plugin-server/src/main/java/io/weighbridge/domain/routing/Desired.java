package io.weighbridge.domain.routing;

import java.util.List;

/**
 * The weights one SetWeight call asks for (what the ledger records and drift restoration defends).
 * Its own file so that the ledger, the planners and the rule selection share it without importing
 * each other.
 *
 * @param canary the canary backend's weight
 * @param stable the stable backend's weight: max - canary - experiments
 * @param experiments the experiment backends' weights
 */
record Desired(int canary, int stable, List<ExperimentWeight> experiments) {

  /** Copies the list. */
  Desired {
    experiments = List.copyOf(experiments);
  }

  /** The same weights with the experiments' share returned to stable (experiments removed). */
  Desired withoutExperiments() {
    if (experiments.isEmpty()) {
      return this;
    }
    int freed = experiments.stream().mapToInt(ExperimentWeight::weight).sum();
    return new Desired(canary, stable + freed, List.of());
  }

  /** Whether a canary is in progress: weight on the canary or on experiments. */
  boolean inProgress() {
    return canary > 0 || !experiments.isEmpty();
  }

  /** The sum of all weights (maxTrafficWeight when valid). */
  int total() {
    return canary + stable + experiments.stream().mapToInt(ExperimentWeight::weight).sum();
  }

  /**
   * One experiment Service and its weight.
   *
   * @param service the Service
   * @param weight its share, in units of maxTrafficWeight
   */
  record ExperimentWeight(ServiceRef service, int weight) {}
}
