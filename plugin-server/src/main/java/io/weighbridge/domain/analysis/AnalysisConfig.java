package io.weighbridge.domain.analysis;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * One Rollout's canary analysis, parsed from the {@code analysis} key of its plugin configuration.
 * Immutable. The defaults protect a Rollout with no PromQL written: built-in success-rate and
 * latency checks over the Traefik and Linkerd metrics of its routes.
 *
 * @param enabled false turns the analyzer off for this Rollout
 * @param successRate the built-in success-rate check (canary vs stable error rate)
 * @param latency the built-in latency check (canary vs stable quantile)
 * @param grpcFailureCodes gRPC status codes counted as failures by the built-in checks
 * @param custom user-written PromQL checks
 */
public record AnalysisConfig(
    boolean enabled,
    SuccessRateCheck successRate,
    LatencyCheck latency,
    Set<Integer> grpcFailureCodes,
    List<CustomCheck> custom) {

  /**
   * gRPC codes that mean the server failed, the gRPC counterparts of HTTP 5xx in the canonical
   * gRPC-to-HTTP mapping: UNKNOWN(2)=500, DEADLINE_EXCEEDED(4)=504, UNIMPLEMENTED(12)=501,
   * INTERNAL(13)=500, UNAVAILABLE(14)=503, DATA_LOSS(15)=500. Codes a correct server returns for
   * bad requests (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, ...) or that the client causes
   * (CANCELLED) or that signal load shedding by quota (RESOURCE_EXHAUSTED=429) are not failures,
   * just as HTTP 4xx are not. Users who want "any non-OK status" list all codes 1..16.
   */
  public static final Set<Integer> DEFAULT_GRPC_FAILURE_CODES = Set.of(2, 4, 12, 13, 14, 15);

  /** The configuration used when the plugin JSON has no {@code analysis} key. */
  public static final AnalysisConfig DEFAULTS =
      new AnalysisConfig(
          true,
          new SuccessRateCheck(true, Policy.DEFAULTS, OptionalDouble.empty()),
          new LatencyCheck(true, Policy.DEFAULTS, 0.95, 0.5, OptionalDouble.empty()),
          DEFAULT_GRPC_FAILURE_CODES,
          List.of());

  /** Copies the collections and checks the parts. */
  public AnalysisConfig {
    Objects.requireNonNull(successRate, "successRate");
    Objects.requireNonNull(latency, "latency");
    grpcFailureCodes = Set.copyOf(grpcFailureCodes);
    custom = List.copyOf(custom);
  }

  /** What to do when a check fails. */
  public enum Action {
    /** Revert: canary weight 0 on every route, then abort the Rollout. */
    ABORT,
    /** Halt: pause the Rollout and hold the canary weight. */
    PAUSE;
  }

  /** What to do when a check cannot decide (no data, NaN, Prometheus unreachable). */
  public enum OnInconclusive {
    /** Keep going; the Rollout's own steps decide (the default: never act on missing data). */
    NOTHING,
    /** Pause the Rollout. */
    PAUSE,
    /** Abort the Rollout. */
    ABORT;
  }

  /**
   * How one check acts and how sure it must be.
   *
   * @param action what a failed check does
   * @param alpha the false-positive rate of the sequential test over the whole analysis, however
   *     often it looks (from {@code sensitivity})
   * @param minSampleSize canary requests needed before the check may fail
   * @param onInconclusive what an inconclusive check does
   */
  public record Policy(
      Action action, double alpha, long minSampleSize, OnInconclusive onInconclusive) {

    /** abort, sensitivity medium, 10 canary requests, nothing on inconclusive. */
    public static final Policy DEFAULTS =
        new Policy(Action.ABORT, Sensitivity.MEDIUM.alpha(), 10, OnInconclusive.NOTHING);

    /** Checks the parts. */
    public Policy {
      Objects.requireNonNull(action, "action");
      Objects.requireNonNull(onInconclusive, "onInconclusive");
      if (!(alpha > 0 && alpha < 1)) {
        throw new IllegalArgumentException("alpha must be in (0, 1): " + alpha);
      }
      if (minSampleSize < 0) {
        throw new IllegalArgumentException("minSampleSize must be >= 0: " + minSampleSize);
      }
    }

    /** This policy with another minimum sample size. */
    public Policy withMinSampleSize(long n) {
      return new Policy(action, alpha, n, onInconclusive);
    }
  }

  /**
   * Named false-positive rates. The rate holds for one check over one analysis however many times
   * it is evaluated (the test is sequential); a Rollout with several checks adds them up.
   */
  public enum Sensitivity {
    /** 1 false abort in 2000 healthy analyses per check; slower to detect. */
    LOW(0.0005),
    /** 1 in 500 per check (default): two checks keep false aborts under 1%. */
    MEDIUM(0.002),
    /** 1 in 100 per check; fastest detection. */
    HIGH(0.01);

    private final double alpha;

    Sensitivity(double alpha) {
      this.alpha = alpha;
    }

    /** The false-positive rate this level stands for. */
    public double alpha() {
      return alpha;
    }
  }

  /**
   * The built-in error-rate check: canary vs stable by a sequential test, plus an optional limit.
   *
   * @param enabled false disables it
   * @param policy how it acts
   * @param maxErrorRate when present, the canary also fails above this error rate (0..1), judged
   *     once it has minSampleSize requests
   */
  public record SuccessRateCheck(boolean enabled, Policy policy, OptionalDouble maxErrorRate) {

    /** Checks the parts. */
    public SuccessRateCheck {
      Objects.requireNonNull(policy, "policy");
      Objects.requireNonNull(maxErrorRate, "maxErrorRate");
    }
  }

  /**
   * The built-in latency check, two independent rules.
   *
   * <p>Relative (always on): a sequential test, with the same false-fail guarantee as the
   * error-rate check, on the requests slower than the histogram bound at or above stable's {@code
   * quantile}: the canary fails when its share of such slow requests is credibly more than {@code 1
   * + margin} times stable's (see {@link LatencyStatistics}). Resolution is the proxy's bucket
   * layout: with Traefik's default buckets (0.1, 0.3, 1.2, 5 s) only shifts across a bound are
   * seen.
   *
   * <p>Absolute (optional): {@code maxSeconds} is a fixed SLO, not a comparison: the canary fails
   * when its {@code quantile}, interpolated from its buckets over the step so far, exceeds it, once
   * minSampleSize canary requests came. It is a threshold on an estimate, so set it well above the
   * quantile a healthy version reaches.
   *
   * @param enabled false disables both rules
   * @param policy how it acts; alpha is the relative rule's false-fail rate per analysis
   * @param quantile which quantile, in (0, 1), e.g. 0.95: picks the bound, and is what maxSeconds
   *     limits
   * @param margin minimum effect of the relative rule, {@code >= 0}: 0.5 means the canary must have
   *     more than 1.5x stable's share of slow requests before it can fail
   * @param maxSeconds when present, the canary also fails when its quantile exceeds this
   */
  public record LatencyCheck(
      boolean enabled, Policy policy, double quantile, double margin, OptionalDouble maxSeconds) {

    /** Checks the parts. */
    public LatencyCheck {
      Objects.requireNonNull(policy, "policy");
      Objects.requireNonNull(maxSeconds, "maxSeconds");
      if (!(quantile > 0 && quantile < 1)) {
        throw new IllegalArgumentException("quantile must be in (0, 1): " + quantile);
      }
      if (!(margin >= 0) || Double.isInfinite(margin)) {
        throw new IllegalArgumentException("margin must be a finite number >= 0: " + margin);
      }
    }
  }

  /**
   * A user-written PromQL check. Queries are templates: {@code {{namespace}}}, {@code {{rollout}}},
   * {@code {{routes}}} (a regex alternation of route names), {@code {{service}}} and {@code
   * {{podTemplateHash}}} (of the side being measured), {@code {{canaryService}}}, {@code
   * {{stableService}}}, {@code {{canaryHash}}}, {@code {{stableHash}}} and {@code {{window}}} (the
   * analysis' elapsed time as a PromQL duration, e.g. {@code 95s}).
   *
   * @param name unique name, shown in verdicts
   * @param kind how the queries are compared
   * @param query for {@link Kind#VALUE}: returns one number per side
   * @param errorQuery for {@link Kind#ERROR_RATE}: failed requests of the side over the window
   * @param totalQuery for {@link Kind#ERROR_RATE}: all requests of the side over the window
   * @param policy how it acts
   * @param max for VALUE: the canary fails above this; for ERROR_RATE: above this error rate
   * @param tolerance for VALUE: the canary fails when above stable by more than this fraction
   * @param path where in the configuration it was written, for messages
   */
  public record CustomCheck(
      String name,
      Kind kind,
      Optional<String> query,
      Optional<String> errorQuery,
      Optional<String> totalQuery,
      Policy policy,
      OptionalDouble max,
      OptionalDouble tolerance,
      String path) {

    /** How a custom check's numbers are judged. */
    public enum Kind {
      /** Two counts per side: compared with the same sequential test as the built-in check. */
      ERROR_RATE,
      /** One number per side: compared by tolerance against stable and by an absolute max. */
      VALUE;
    }
  }
}
