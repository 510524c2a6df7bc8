package io.weighbridge.domain.analysis;

import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisConfig.CustomCheck;
import io.weighbridge.domain.analysis.AnalysisConfig.Policy;
import io.weighbridge.domain.analysis.BuiltInQueries.SideQueries;
import io.weighbridge.domain.analysis.MetricsSource.QueryResult;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Side;
import io.weighbridge.domain.analysis.Verdict.CheckResult;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/**
 * Evaluates one Rollout's checks at one moment and returns a {@link Verdict}. Stateless: the counts
 * are cumulative from the target's {@code since}, so any replica can evaluate any target after a
 * restart. The lifecycle (which Rollouts, when, leader election) and the actions (abort, pause,
 * Events) live outside and call {@link #evaluate}.
 */
public final class Analyzer {

  /** The shortest window queried, so that the first looks still span a few scrapes. */
  static final Duration MIN_WINDOW = Duration.ofSeconds(10);

  private final MetricsSource metrics;

  /** Creates an analyzer reading through {@code metrics}. */
  public Analyzer(MetricsSource metrics) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /** Evaluates every enabled check of {@code target} at {@code now}. */
  public Verdict evaluate(RolloutAnalysisTarget target, Instant now) {
    AnalysisConfig config = target.config();
    List<CheckResult> results = new ArrayList<>();
    if (config.enabled()) {
      String window = window(target.since(), now);
      for (String source : BuiltInQueries.sources(target)) {
        SideQueries c = BuiltInQueries.forSide(source, target, Side.CANARY, window);
        SideQueries s = BuiltInQueries.forSide(source, target, Side.STABLE, window);
        if (config.successRate().enabled()) {
          results.add(
              errorRate(
                  "success-rate/" + source,
                  counts(c.total(), c.errors(), s.total(), s.errors(), now),
                  config.successRate().policy(),
                  config.successRate().maxErrorRate()));
        }
        if (config.latency().enabled()) {
          results.add(latency("latency/" + source, config.latency(), c, s, now));
        }
      }
      for (CustomCheck check : config.custom()) {
        results.add(custom(check, target, window, now));
      }
    }
    return combine(target.key(), now, results);
  }

  /** {@code now - since} as a PromQL duration in whole seconds, at least {@link #MIN_WINDOW}. */
  static String window(Instant since, Instant now) {
    long seconds = Math.max(MIN_WINDOW.toSeconds(), Duration.between(since, now).toSeconds());
    return seconds + "s";
  }

  private static Verdict combine(String rollout, Instant now, List<CheckResult> results) {
    List<CheckResult> failed = results.stream().filter(r -> r.outcome() == Outcome.FAILED).toList();
    List<CheckResult> inconclusive =
        results.stream().filter(r -> r.outcome() == Outcome.INCONCLUSIVE).toList();
    Outcome outcome =
        !failed.isEmpty()
            ? Outcome.FAILED
            : !inconclusive.isEmpty() ? Outcome.INCONCLUSIVE : Outcome.HEALTHY;
    List<CheckResult> deciding = !failed.isEmpty() ? failed : inconclusive;
    Optional<Action> action =
        deciding.stream()
            .map(CheckResult::action)
            .flatMap(Optional::stream)
            .min(java.util.Comparator.naturalOrder()); // ABORT is declared before PAUSE
    return new Verdict(rollout, now, outcome, action, results);
  }

  /** Cumulative counts of both sides, or why they could not be read. */
  private record Counts(
      long canaryRequests,
      long canaryFailures,
      long stableRequests,
      long stableFailures,
      String problem) {}

  private Counts counts(
      String canaryTotal,
      String canaryErrors,
      String stableTotal,
      String stableErrors,
      Instant at) {
    try {
      long ct = count(canaryTotal, "canary requests", at);
      long cf = Math.min(ct, count(canaryErrors, "canary failures", at));
      long st = count(stableTotal, "stable requests", at);
      long sf = Math.min(st, count(stableErrors, "stable failures", at));
      return new Counts(ct, cf, st, sf, null);
    } catch (NoNumber e) {
      return new Counts(-1, -1, -1, -1, e.getMessage());
    }
  }

  private long count(String promql, String what, Instant at) {
    double v = read(promql, what, at);
    if (v < 0) {
      throw new NoNumber(what + " is negative (" + v + "): the query must count requests");
    }
    return Math.round(v);
  }

  /** Reads one finite number or throws {@link NoNumber} with the reason. */
  private double read(String promql, String what, Instant at) {
    QueryResult r;
    try {
      r = metrics.query(promql, at);
    } catch (UnavailableException e) {
      throw new NoNumber("metrics unavailable: " + e.getMessage());
    }
    return switch (r) {
      case QueryResult.NoData n -> throw new NoNumber("no data for " + what + ": " + n.reason());
      case QueryResult.Value v when Double.isNaN(v.value()) ->
          throw new NoNumber(what + " is NaN (query: " + promql + ")");
      case QueryResult.Value v when Double.isInfinite(v.value()) ->
          throw new NoNumber(what + " is infinite (query: " + promql + ")");
      case QueryResult.Value v -> v.value();
      case QueryResult.Buckets b ->
          throw new NoNumber(what + " is a histogram, not one number (query: " + promql + ")");
    };
  }

  /** A check could not get a usable number; its message is the reason. */
  private static final class NoNumber extends RuntimeException {
    NoNumber(String reason) {
      super(reason, null, false, false);
    }
  }

  private static CheckResult inconclusive(String name, Policy policy, String reason) {
    return new CheckResult(
        name,
        Outcome.INCONCLUSIVE,
        onInconclusive(policy),
        Double.NaN,
        Double.NaN,
        -1,
        -1,
        OptionalDouble.empty(),
        reason);
  }

  private static Optional<Action> onInconclusive(Policy policy) {
    return switch (policy.onInconclusive()) {
      case NOTHING -> Optional.empty();
      case PAUSE -> Optional.of(Action.PAUSE);
      case ABORT -> Optional.of(Action.ABORT);
    };
  }

  private static CheckResult errorRate(
      String name, Counts counts, Policy policy, OptionalDouble maxErrorRate) {
    if (counts.problem() != null) {
      return inconclusive(name, policy, counts.problem());
    }
    ErrorRateStatistics.Result t =
        ErrorRateStatistics.test(
            counts.canaryRequests(),
            counts.canaryFailures(),
            counts.stableRequests(),
            counts.stableFailures(),
            policy.alpha());
    Outcome outcome = Outcome.HEALTHY;
    String reason;
    boolean enough = t.canaryRequests() >= policy.minSampleSize();
    if (t.canaryRequests() == 0) {
      return new CheckResult(
          name,
          Outcome.INCONCLUSIVE,
          onInconclusive(policy),
          Double.NaN,
          t.stableErrorRate(),
          0,
          t.stableRequests(),
          OptionalDouble.empty(),
          "the canary served no requests in the window: is traffic reaching it?");
    }
    if (!enough) {
      reason = "waiting for " + policy.minSampleSize() + " canary requests before judging";
    } else if (t.significant()) {
      outcome = Outcome.FAILED;
      reason =
          String.format(
              "canary error rate is higher than stable's (sequential test, p=%.3g <= alpha=%.3g)",
              t.pValue(), policy.alpha());
    } else if (maxErrorRate.isPresent() && t.canaryErrorRate() > maxErrorRate.getAsDouble()) {
      outcome = Outcome.FAILED;
      reason =
          String.format(
              "canary error rate %.4g is above the limit maxErrorRate=%.4g",
              t.canaryErrorRate(), maxErrorRate.getAsDouble());
    } else {
      reason = String.format("no evidence that the canary is worse (p=%.3g)", t.pValue());
    }
    return new CheckResult(
        name,
        outcome,
        outcome == Outcome.FAILED ? Optional.of(policy.action()) : Optional.empty(),
        t.canaryErrorRate(),
        t.stableErrorRate(),
        t.canaryRequests(),
        t.stableRequests(),
        OptionalDouble.of(t.pValue()),
        reason);
  }

  private CheckResult latency(
      String name, AnalysisConfig.LatencyCheck cfg, SideQueries c, SideQueries s, Instant now) {
    Policy policy = cfg.policy();
    LatencyStatistics.Histogram ch;
    LatencyStatistics.Histogram sh;
    try {
      ch = histogram(c.latencyBuckets(), "canary latency histogram", now);
      sh = histogram(s.latencyBuckets(), "stable latency histogram", now);
    } catch (NoNumber e) {
      return inconclusive(name, policy, e.getMessage());
    }
    long canaryRequests = ch.total();
    if (canaryRequests == 0) {
      return new CheckResult(
          name,
          Outcome.INCONCLUSIVE,
          onInconclusive(policy),
          Double.NaN,
          sh.quantile(cfg.quantile()),
          0,
          sh.total(),
          OptionalDouble.empty(),
          "the canary's latency histogram counted no requests in the window: is traffic reaching"
              + " it?");
    }
    LatencyStatistics.Result r =
        LatencyStatistics.compare(ch, sh, cfg.quantile(), cfg.margin(), policy.alpha());
    OptionalDouble p =
        r.test() == null ? OptionalDouble.empty() : OptionalDouble.of(r.test().pValue());
    Outcome outcome;
    String reason;
    if (canaryRequests < policy.minSampleSize()) {
      outcome = Outcome.HEALTHY;
      reason = "waiting for " + policy.minSampleSize() + " canary requests before judging";
    } else if (r.outcome() == LatencyStatistics.Outcome.WORSE) {
      outcome = Outcome.FAILED;
      reason = r.reason();
    } else if (cfg.maxSeconds().isPresent()
        && r.canaryQuantile() > cfg.maxSeconds().getAsDouble()) {
      double max = cfg.maxSeconds().getAsDouble();
      double top = ch.highestFiniteBound();
      if (Double.isInfinite(r.canaryQuantile()) && !(max < top)) {
        outcome = Outcome.INCONCLUSIVE;
        reason =
            String.format(
                "canary's quantile lies above the highest histogram bucket (%s s), so it cannot be"
                    + " compared with maxSeconds=%s; add higher buckets or lower maxSeconds",
                top, max);
      } else {
        outcome = Outcome.FAILED;
        reason =
            String.format(
                "canary's quantile %.4g s is above the absolute limit maxSeconds=%s (%s)",
                r.canaryQuantile(), max, r.reason());
      }
    } else if (r.outcome() == LatencyStatistics.Outcome.INCONCLUSIVE) {
      outcome = Outcome.INCONCLUSIVE;
      reason = r.reason();
    } else {
      outcome = Outcome.HEALTHY;
      reason = r.reason();
    }
    return new CheckResult(
        name,
        outcome,
        switch (outcome) {
          case FAILED -> Optional.of(policy.action());
          case INCONCLUSIVE -> onInconclusive(policy);
          case HEALTHY -> Optional.empty();
        },
        r.canaryQuantile(),
        r.stableQuantile(),
        canaryRequests,
        sh.total(),
        p,
        reason);
  }

  /** Reads a cumulative histogram or throws {@link NoNumber} with the reason. */
  private LatencyStatistics.Histogram histogram(String promql, String what, Instant at) {
    QueryResult r;
    try {
      r = metrics.histogram(promql, at);
    } catch (UnavailableException e) {
      throw new NoNumber("metrics unavailable: " + e.getMessage());
    }
    return switch (r) {
      case QueryResult.NoData n -> throw new NoNumber("no data for " + what + ": " + n.reason());
      case QueryResult.Buckets b when !b.histogram().complete() ->
          throw new NoNumber(what + " has no +Inf bucket (query: " + promql + ")");
      case QueryResult.Buckets b -> b.histogram();
      case QueryResult.Value v ->
          throw new NoNumber(what + " is one number, not buckets by le (query: " + promql + ")");
    };
  }

  private CheckResult custom(
      CustomCheck check, RolloutAnalysisTarget target, String window, Instant now) {
    String name = check.name();
    if (check.kind() == CustomCheck.Kind.ERROR_RATE) {
      Counts counts =
          counts(
              render(check.totalQuery().orElseThrow(), target, Side.CANARY, window),
              render(check.errorQuery().orElseThrow(), target, Side.CANARY, window),
              render(check.totalQuery().orElseThrow(), target, Side.STABLE, window),
              render(check.errorQuery().orElseThrow(), target, Side.STABLE, window),
              now);
      return errorRate(name, counts, check.policy(), check.max());
    }
    double cv;
    double sv;
    try {
      cv = read(render(check.query().orElseThrow(), target, Side.CANARY, window), "canary", now);
      sv = read(render(check.query().orElseThrow(), target, Side.STABLE, window), "stable", now);
    } catch (NoNumber e) {
      return inconclusive(name, check.policy(), e.getMessage());
    }
    String reason = "within limits";
    boolean failed = false;
    if (check.max().isPresent() && cv > check.max().getAsDouble()) {
      failed = true;
      reason = "canary value " + cv + " is above max=" + check.max().getAsDouble();
    } else if (check.tolerance().isPresent()
        && cv > sv * (1 + check.tolerance().getAsDouble())
        && cv > sv) {
      failed = true;
      reason =
          "canary value "
              + cv
              + " exceeds stable "
              + sv
              + " by more than tolerance="
              + check.tolerance().getAsDouble();
    }
    return new CheckResult(
        name,
        failed ? Outcome.FAILED : Outcome.HEALTHY,
        failed ? Optional.of(check.policy().action()) : Optional.empty(),
        cv,
        sv,
        -1,
        -1,
        OptionalDouble.empty(),
        reason);
  }

  /** Fills a custom query's placeholders for one side. */
  static String render(String template, RolloutAnalysisTarget t, Side side, String window) {
    String routes =
        t.routes().stream()
            .map(Route::name)
            .map(BuiltInQueries::regexQuote)
            .distinct()
            .collect(Collectors.joining("|"));
    return template
        .replace("{{namespace}}", t.namespace())
        .replace("{{rollout}}", t.rollout())
        .replace("{{routes}}", routes)
        .replace("{{service}}", t.service(side))
        .replace("{{podTemplateHash}}", t.hash(side))
        .replace("{{canaryService}}", t.canaryService())
        .replace("{{stableService}}", t.stableService())
        .replace("{{canaryHash}}", t.canaryHash())
        .replace("{{stableHash}}", t.stableHash())
        .replace("{{window}}", window);
  }
}
