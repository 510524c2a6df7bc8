package io.weighbridge.adapter.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class MicrometerAnalysisMetricsTest {

  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private boolean leader = true;
  private final MicrometerAnalysisMetrics metrics =
      new MicrometerAnalysisMetrics(registry, () -> 3, () -> leader);

  @Test
  @DisplayName("When nothing happened yet, then verdicts and actions read 0 under their docs names")
  void preRegistered() {
    String text = registry.scrape();
    assertThat(text)
        .contains("weighbridge_analysis_verdicts_total{outcome=\"inconclusive\"} 0.0")
        .contains(
            "weighbridge_analysis_actions_total{action=\"pause\",result=\"failed\","
                + "trigger=\"inconclusive\"} 0.0")
        .contains("weighbridge_analysis_running 3.0")
        .contains("weighbridge_analysis_leader 1.0")
        .contains("weighbridge_analysis_time_to_action_seconds_count 0");
  }

  @Test
  @DisplayName("When the analyzer aborts, then the action counts and the time to it is recorded")
  void actionRecorded() {
    metrics.verdict(Outcome.FAILED);
    metrics.action(Action.ABORT, "failed", Optional.of(Duration.ofSeconds(12)), true);
    metrics.action(Action.ABORT, "failed", Optional.of(Duration.ofSeconds(99)), false);
    leader = false;

    assertThat(
            registry
                .get("weighbridge.analysis.verdicts")
                .tag("outcome", "failed")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get("weighbridge.analysis.actions")
                .tags("action", "abort", "trigger", "failed", "result", "done")
                .counter()
                .count())
        .isEqualTo(1);
    var timer = registry.get("weighbridge.analysis.time.to.action").timer();
    assertThat(timer.count()).as("only done actions are timed").isEqualTo(1);
    assertThat(timer.totalTime(java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(12);
    assertThat(registry.scrape())
        .contains("weighbridge_analysis_time_to_action_seconds_bucket{le=\"15.0\"} 1")
        .contains("weighbridge_analysis_leader 0.0");
  }
}
