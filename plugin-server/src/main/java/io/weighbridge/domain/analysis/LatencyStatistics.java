package io.weighbridge.domain.analysis;

import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Compares the canary's latency with stable's by a sequential test on cumulative histogram buckets.
 *
 * <p>Why not compare quantiles. A quantile read from a histogram is interpolated inside a bucket
 * (Traefik's default buckets are 0.1, 0.3, 1.2 and 5 s), so small samples swing it by a whole
 * bucket width, and it has no sampling distribution we could test. A tolerance rule on two such
 * numbers fails healthy canaries by chance, more often the more often it looks.
 *
 * <p>What we test instead. Take the bucket bound {@code b} at or above stable's chosen quantile
 * (e.g. p95): the smallest bound under which at least that share of stable's requests fall. Count
 * each side's requests slower than {@code b} (total minus the bucket's cumulative count). If the
 * canary is not slower, its slow requests are no more frequent than stable's, so the slow requests
 * split between the sides in proportion to their traffic: the same situation as failures in the
 * error-rate check, and {@link ErrorRateStatistics} runs the same mixture sequential test on it,
 * valid under any number of looks. The null ratio is {@code 1 + margin}: the canary fails only when
 * its rate of slow requests is credibly more than {@code 1 + margin} times stable's, so a slight
 * shift never aborts.
 *
 * <p>The bound is chosen from stable's data only (never the canary's), so it cannot be steered by
 * the canary. With stable's large sample it settles within the first looks; if stable's quantile
 * sits exactly on a bound, the choice can alternate between two adjacent bounds, each of which is a
 * valid test on its own (the unit tests measure the false-fail rate in that case too).
 */
public final class LatencyStatistics {

  private LatencyStatistics() {}

  /**
   * A cumulative histogram: upper bound in seconds ({@code +Inf} included) to the number of
   * requests at or below it, as {@code sum by (le) (increase(..._bucket[window]))} returns it.
   *
   * @param cumulative bound to cumulative count
   */
  public record Histogram(NavigableMap<Double, Double> cumulative) {

    /** Copies the map; counts are made non-decreasing (increase() extrapolates each le alone). */
    public Histogram {
      Objects.requireNonNull(cumulative, "cumulative");
      TreeMap<Double, Double> copy = new TreeMap<>();
      double running = 0;
      for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
        if (Double.isNaN(e.getKey()) || !Double.isFinite(e.getValue())) {
          throw new IllegalArgumentException("histogram bucket is not a number: " + e);
        }
        running = Math.max(running, Math.max(0, e.getValue()));
        copy.put(e.getKey(), running);
      }
      cumulative = java.util.Collections.unmodifiableNavigableMap(copy);
    }

    /** True when it has a {@code +Inf} bucket, which holds the total. */
    public boolean complete() {
      return cumulative.containsKey(Double.POSITIVE_INFINITY);
    }

    /** All requests (the {@code +Inf} bucket), rounded; 0 when incomplete. */
    public long total() {
      return Math.round(cumulative.getOrDefault(Double.POSITIVE_INFINITY, 0.0));
    }

    /** Requests slower than {@code bound} (which must be one of the bucket bounds). */
    public long slowerThan(double bound) {
      double at = cumulative.getOrDefault(bound, 0.0);
      return Math.max(0, total() - Math.round(at));
    }

    /**
     * The smallest finite bound with at least {@code q} of the requests at or below it, or NaN when
     * the quantile lies in the {@code +Inf} bucket or there are no requests.
     */
    public double boundAtOrAbove(double q) {
      double total = cumulative.getOrDefault(Double.POSITIVE_INFINITY, 0.0);
      if (total <= 0) {
        return Double.NaN;
      }
      for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
        if (Double.isFinite(e.getKey()) && e.getValue() >= q * total) {
          return e.getKey();
        }
      }
      return Double.NaN;
    }

    /**
     * The quantile interpolated linearly inside its bucket, as PromQL's {@code histogram_quantile}
     * does (the lowest bucket starts at 0); {@code +Inf} when it lies above the highest finite
     * bound, NaN without requests. Evidence for people and the absolute limit, not for the test.
     */
    public double quantile(double q) {
      double total = cumulative.getOrDefault(Double.POSITIVE_INFINITY, 0.0);
      if (total <= 0) {
        return Double.NaN;
      }
      double rank = q * total;
      double lowerBound = 0;
      double lowerCount = 0;
      for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
        if (e.getValue() >= rank) {
          if (Double.isInfinite(e.getKey())) {
            return Double.POSITIVE_INFINITY;
          }
          double inBucket = e.getValue() - lowerCount;
          return inBucket <= 0
              ? e.getKey()
              : lowerBound + (e.getKey() - lowerBound) * (rank - lowerCount) / inBucket;
        }
        lowerBound = e.getKey();
        lowerCount = e.getValue();
      }
      return Double.POSITIVE_INFINITY;
    }

    /** The highest finite bound, or NaN when there is none. */
    public double highestFiniteBound() {
      Double b = cumulative.lowerKey(Double.POSITIVE_INFINITY);
      return b == null ? Double.NaN : b;
    }
  }

  /** The judgement. */
  public enum Outcome {
    /** No evidence that the canary is slower by more than the margin. */
    OK,
    /** The canary is credibly slower than stable by more than the margin. */
    WORSE,
    /** No usable numbers (no requests, no finite bound at stable's quantile). */
    INCONCLUSIVE;
  }

  /**
   * The result with its evidence.
   *
   * @param outcome the judgement
   * @param bound the bucket bound the requests were split at, in seconds (NaN when none)
   * @param canaryQuantile the canary's interpolated quantile, in seconds
   * @param stableQuantile stable's interpolated quantile, in seconds
   * @param test the sequential test on slow requests ("failures" = slower than {@code bound}); null
   *     when inconclusive
   * @param reason why, in words
   */
  public record Result(
      Outcome outcome,
      double bound,
      double canaryQuantile,
      double stableQuantile,
      ErrorRateStatistics.Result test,
      String reason) {}

  /**
   * Judges one look.
   *
   * @param quantile which quantile of stable picks the bound, e.g. 0.95
   * @param margin the canary fails only when its rate of slow requests is more than {@code 1 +
   *     margin} times stable's (0 = any credible increase)
   * @param alpha the false-fail rate over the whole analysis
   */
  public static Result compare(
      Histogram canary, Histogram stable, double quantile, double margin, double alpha) {
    double cq = canary.quantile(quantile);
    double sq = stable.quantile(quantile);
    if (!canary.complete() || !stable.complete() || canary.total() == 0 || stable.total() == 0) {
      return new Result(
          Outcome.INCONCLUSIVE,
          Double.NaN,
          cq,
          sq,
          null,
          "no latency samples yet (canary "
              + canary.total()
              + ", stable "
              + stable.total()
              + " requests in the histogram)");
    }
    double bound = stable.boundAtOrAbove(quantile);
    if (Double.isNaN(bound)) {
      return new Result(
          Outcome.INCONCLUSIVE,
          Double.NaN,
          cq,
          sq,
          null,
          String.format(
              "stable's p%s lies above the highest histogram bucket (%s s): no bound to compare"
                  + " at; add higher buckets to the proxy's histogram",
              percent(quantile), stable.highestFiniteBound()));
    }
    ErrorRateStatistics.Result t =
        ErrorRateStatistics.test(
            canary.total(),
            canary.slowerThan(bound),
            stable.total(),
            stable.slowerThan(bound),
            alpha,
            1 + margin);
    String shares =
        String.format(
            "slower than %s s (stable's p%s bucket): canary %d/%d (%.3g%%) vs stable %d/%d"
                + " (%.3g%%)",
            bound,
            percent(quantile),
            t.canaryFailures(),
            t.canaryRequests(),
            100 * t.canaryErrorRate(),
            t.stableFailures(),
            t.stableRequests(),
            100 * t.stableErrorRate());
    if (t.significant()) {
      return new Result(
          Outcome.WORSE,
          bound,
          cq,
          sq,
          t,
          String.format(
              "canary is slower: more than %.2fx stable's share of requests %s; sequential"
                  + " test p=%.3g <= alpha=%.3g",
              1 + margin, shares, t.pValue(), alpha));
    }
    return new Result(
        Outcome.OK,
        bound,
        cq,
        sq,
        t,
        String.format(
            "no evidence the canary is slower by more than %.0f%%: %s; p=%.3g",
            margin * 100, shares, t.pValue()));
  }

  private static String percent(double q) {
    return new java.math.BigDecimal(String.valueOf(q))
        .movePointRight(2)
        .stripTrailingZeros()
        .toPlainString();
  }
}
