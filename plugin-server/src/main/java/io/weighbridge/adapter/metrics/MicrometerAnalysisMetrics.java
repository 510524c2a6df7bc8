package io.weighbridge.adapter.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisMetrics;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * The analyzer's metrics in Micrometer (names in docs/metrics.md): verdicts by outcome, actions by
 * action, trigger and result, and a histogram of the time from the first evaluation that saw the
 * canary worse than stable to the action. Every verdict and action series is registered at zero up
 * front so that rates and alerts see zeros rather than gaps.
 */
public final class MicrometerAnalysisMetrics implements AnalysisMetrics {

  private static final Duration[] ACTION_BUCKETS = {
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(15),
    Duration.ofSeconds(20),
    Duration.ofSeconds(30),
    Duration.ofSeconds(45),
    Duration.ofSeconds(60),
    Duration.ofSeconds(120),
    Duration.ofSeconds(300),
    Duration.ofSeconds(900)
  };

  private final MeterRegistry registry;
  private final Timer timeToAction;

  /**
   * Registers the meters.
   *
   * @param running the number of analyses running now (for a gauge)
   * @param leader whether this replica leads (for a gauge)
   */
  public MicrometerAnalysisMetrics(
      MeterRegistry registry, IntSupplier running, BooleanSupplier leader) {
    this.registry = registry;
    for (Outcome o : Outcome.values()) {
      verdictCounter(o);
    }
    for (Action a : Action.values()) {
      for (String trigger : new String[] {"failed", "inconclusive"}) {
        actionCounter(a, trigger, true);
        actionCounter(a, trigger, false);
      }
    }
    this.timeToAction =
        Timer.builder("weighbridge.analysis.time.to.action")
            .description(
                "Time from the first evaluation that saw the canary worse than stable to the abort"
                    + " or pause")
            .serviceLevelObjectives(ACTION_BUCKETS)
            .register(registry);
    Gauge.builder("weighbridge.analysis.running", running::getAsInt)
        .description("Canary analyses running now (0 on replicas that do not lead)")
        .register(registry);
    Gauge.builder("weighbridge.analysis.leader", () -> leader.getAsBoolean() ? 1 : 0)
        .description("1 while this replica holds the analyzer's Lease and acts")
        .register(registry);
  }

  private Counter verdictCounter(Outcome o) {
    return Counter.builder("weighbridge.analysis.verdicts")
        .description("Evaluations of a Rollout's canary, by outcome")
        .tag("outcome", o.name().toLowerCase(Locale.ROOT))
        .register(registry);
  }

  private Counter actionCounter(Action a, String trigger, boolean succeeded) {
    return Counter.builder("weighbridge.analysis.actions")
        .description("Aborts and pauses of Rollouts by the analyzer")
        .tag("action", a.name().toLowerCase(Locale.ROOT))
        .tag("trigger", trigger)
        .tag("result", succeeded ? "done" : "failed")
        .register(registry);
  }

  @Override
  public void verdict(Outcome outcome) {
    verdictCounter(outcome).increment();
  }

  @Override
  public void action(
      Action action, String trigger, Optional<Duration> sinceFirstBad, boolean succeeded) {
    actionCounter(action, trigger, succeeded).increment();
    if (succeeded) {
      sinceFirstBad.ifPresent(timeToAction::record);
    }
  }
}
