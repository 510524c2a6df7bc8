package io.weighbridge.domain.analysis;

import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Duration;
import java.util.Optional;

/** What the analyzer reports for monitoring; the Micrometer adapter implements it. */
public interface AnalysisMetrics {

  /** One evaluation of one Rollout came out as {@code outcome}. */
  void verdict(Outcome outcome);

  /**
   * The analyzer acted on a Rollout.
   *
   * @param action abort or pause
   * @param trigger {@code failed} or {@code inconclusive}
   * @param sinceFirstBad time from the first evaluation that saw the canary worse than stable to
   *     the action, when one did
   * @param succeeded whether the Rollout was aborted or paused (false: the patch failed, retried)
   */
  void action(Action action, String trigger, Optional<Duration> sinceFirstBad, boolean succeeded);

  /** Metrics that go nowhere, for tests and tools. */
  AnalysisMetrics NONE =
      new AnalysisMetrics() {
        @Override
        public void verdict(Outcome outcome) {}

        @Override
        public void action(
            Action action, String trigger, Optional<Duration> sinceFirstBad, boolean succeeded) {}
      };
}
