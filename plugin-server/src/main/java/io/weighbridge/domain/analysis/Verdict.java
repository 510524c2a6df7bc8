package io.weighbridge.domain.analysis;

import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/**
 * The analyzer's answer for one Rollout at one moment, with the evidence an operator needs to trust
 * it (written into the Kubernetes Event by the lifecycle). HEALTHY means "no evidence against the
 * canary yet": it never promotes anything.
 *
 * @param rollout {@code namespace/name}
 * @param at the evaluation time
 * @param outcome the overall outcome: FAILED if any check failed, else INCONCLUSIVE if any check
 *     could not decide, else HEALTHY
 * @param action what to do now: the strictest action of the failed checks, or the onInconclusive
 *     action of the inconclusive ones; empty to do nothing
 * @param checks every check's result
 */
public record Verdict(
    String rollout,
    Instant at,
    Outcome outcome,
    Optional<Action> action,
    List<CheckResult> checks) {

  /** Copies the list. */
  public Verdict {
    checks = List.copyOf(checks);
  }

  /** How a check or the whole analysis came out. */
  public enum Outcome {
    /** No evidence against the canary. */
    HEALTHY,
    /** The canary is worse than allowed. */
    FAILED,
    /** No usable data (empty, NaN, absent, Prometheus unreachable). */
    INCONCLUSIVE;
  }

  /**
   * The evidence of one check.
   *
   * @param name the check ({@code success-rate/traefik}, {@code latency/linkerd} or a custom name)
   * @param outcome how it came out
   * @param action what it asks for (empty: nothing)
   * @param canary the canary's figure (error rate, seconds or the custom value); NaN when unknown
   * @param stable stable's figure; NaN when unknown
   * @param canarySamples canary requests counted (-1 when not applicable)
   * @param stableSamples stable requests counted (-1 when not applicable)
   * @param pValue the test's always-valid p-value, when a test ran
   * @param reason the judgement in words
   */
  public record CheckResult(
      String name,
      Outcome outcome,
      Optional<Action> action,
      double canary,
      double stable,
      long canarySamples,
      long stableSamples,
      OptionalDouble pValue,
      String reason) {

    /** One line for Events and logs. */
    public String describe() {
      return name
          + " "
          + outcome
          + ": canary "
          + fmt(canary)
          + (canarySamples >= 0 ? " (n=" + canarySamples + ")" : "")
          + " vs stable "
          + fmt(stable)
          + (stableSamples >= 0 ? " (n=" + stableSamples + ")" : "")
          + (pValue.isPresent() ? String.format(", p=%.3g", pValue.getAsDouble()) : "")
          + "; "
          + reason;
    }

    private static String fmt(double v) {
      return Double.isNaN(v) ? "n/a" : String.format("%.4g", v);
    }
  }

  /** The checks with a given outcome. */
  public List<CheckResult> checks(Outcome which) {
    return checks.stream().filter(c -> c.outcome() == which).toList();
  }

  /** A multi-line summary with every check's evidence, for Events and logs. */
  public String describe() {
    return "Rollout "
        + rollout
        + ": "
        + outcome
        + action.map(a -> " -> " + a.name().toLowerCase(java.util.Locale.ROOT)).orElse("")
        + "\n"
        + checks.stream().map(CheckResult::describe).collect(Collectors.joining("\n"));
  }
}
