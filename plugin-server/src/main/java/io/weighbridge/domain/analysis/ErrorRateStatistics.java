package io.weighbridge.domain.analysis;

/**
 * The sequential one-sided test "is the canary's error rate higher than stable's?" on cumulative
 * request and failure counts.
 *
 * <p>Why this test. We look every few seconds, so a fixed-sample test (a two-proportion z-test, or
 * Fisher's exact test, each at level alpha) would be repeated hundreds of times and its false-alarm
 * rate would grow towards 1. We need a test whose error rate holds for any number of looks and any
 * stopping time. The one used here conditions on the failures, as Fisher's exact test does: under
 * the null hypothesis (equal error rates), each failure is the canary's with probability {@code pi0
 * = nCanary / (nCanary + nStable)}, whatever the common error rate (exact for Poisson counts, and
 * conservative for binomial counts, whose conditional law, the hypergeometric, is narrower). If the
 * canary's failure odds are {@code k} times stable's, that probability is {@code pi1 = k pi0 / (k
 * pi0 + 1 - pi0)}. The likelihood ratio of the observed split of failures, mixed over a fixed grid
 * of {@code k} (1.5 to 100, equal weights, so both a total outage and a 2x regression are
 * detected), is a non-negative martingale under the null; by Ville's inequality it ever reaches
 * {@code 1/alpha} with probability at most {@code alpha}. So we reject (the canary is worse) when
 * the mixture ratio reaches {@code 1/alpha}, and report the always-valid p-value {@code min(1,
 * 1/ratio)}. This is a mixture sequential probability ratio test (Robbins 1970; Johari et al. 2017,
 * "always valid p-values"), one-sided because all {@code k > 1}.
 *
 * <p>Minimum effect. {@link #test(long, long, long, long, double, double)} takes a null ratio
 * {@code k0 >= 1}: the null hypothesis becomes "the canary's ratio is at most {@code k0}" and the
 * alternatives are {@code k0} times the grid. For a true ratio at or below {@code k0} each factor
 * of the likelihood ratio has expectation at most 1 (a Bernoulli likelihood ratio is increasing in
 * the success probability), so the mixture is a non-negative supermartingale and Ville's bound
 * still holds. The error-rate check uses {@code k0 = 1}; the latency check uses {@code 1 + margin}
 * so that a slight slowdown never aborts.
 *
 * <p>The test is about any event counted per request ("failed" here, "slower than a bound" in
 * {@link LatencyStatistics}), so both checks share it.
 *
 * <p>Assumption: the canary's share of traffic is constant while counts accumulate (one canary
 * step); the lifecycle restarts the analysis when the weight changes.
 */
public final class ErrorRateStatistics {

  /** Odds ratios (canary vs stable) the mixture alternative spreads its weight over. */
  static final double[] EFFECTS = {1.5, 2, 3, 5, 10, 30, 100};

  private ErrorRateStatistics() {}

  /**
   * The result of one look.
   *
   * @param canaryRequests canary requests so far
   * @param canaryFailures canary failures so far
   * @param stableRequests stable requests so far
   * @param stableFailures stable failures so far
   * @param likelihoodRatio the mixture likelihood ratio (evidence for "canary worse")
   * @param pValue the always-valid one-sided p-value, {@code min(1, 1/likelihoodRatio)}
   * @param significant true when {@code pValue <= alpha}
   */
  public record Result(
      long canaryRequests,
      long canaryFailures,
      long stableRequests,
      long stableFailures,
      double likelihoodRatio,
      double pValue,
      boolean significant) {

    /** canaryFailures / canaryRequests, or NaN without requests. */
    public double canaryErrorRate() {
      return canaryRequests == 0 ? Double.NaN : (double) canaryFailures / canaryRequests;
    }

    /** stableFailures / stableRequests, or NaN without requests. */
    public double stableErrorRate() {
      return stableRequests == 0 ? Double.NaN : (double) stableFailures / stableRequests;
    }
  }

  /**
   * Tests cumulative counts at level {@code alpha}.
   *
   * @throws IllegalArgumentException when counts are negative, failures exceed requests or alpha is
   *     not in (0, 1)
   */
  public static Result test(
      long canaryRequests,
      long canaryFailures,
      long stableRequests,
      long stableFailures,
      double alpha) {
    return test(canaryRequests, canaryFailures, stableRequests, stableFailures, alpha, 1);
  }

  /**
   * Tests cumulative counts at level {@code alpha} against the null hypothesis "the canary's
   * failure ratio (vs stable's) is at most {@code nullRatio}".
   *
   * @throws IllegalArgumentException when counts are negative, failures exceed requests, alpha is
   *     not in (0, 1) or nullRatio is below 1
   */
  public static Result test(
      long canaryRequests,
      long canaryFailures,
      long stableRequests,
      long stableFailures,
      double alpha,
      double nullRatio) {
    if (!(nullRatio >= 1) || Double.isInfinite(nullRatio)) {
      throw new IllegalArgumentException("nullRatio must be a finite number >= 1: " + nullRatio);
    }
    if (canaryRequests < 0
        || stableRequests < 0
        || canaryFailures < 0
        || stableFailures < 0
        || canaryFailures > canaryRequests
        || stableFailures > stableRequests) {
      throw new IllegalArgumentException(
          "counts must be >= 0 with failures <= requests: canary "
              + canaryFailures
              + "/"
              + canaryRequests
              + ", stable "
              + stableFailures
              + "/"
              + stableRequests);
    }
    if (!(alpha > 0 && alpha < 1)) {
      throw new IllegalArgumentException("alpha must be in (0, 1): " + alpha);
    }
    double ratio = 1;
    if (canaryRequests > 0 && stableRequests > 0 && canaryFailures > 0) {
      double share = (double) canaryRequests / (canaryRequests + stableRequests);
      // the canary's share of failures at the null's boundary (ratio nullRatio)
      double pi0 = nullRatio * share / (nullRatio * share + 1 - share);
      // log-sum-exp over the grid keeps large counts from overflowing
      double[] logs = new double[EFFECTS.length];
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < EFFECTS.length; i++) {
        double k = nullRatio * EFFECTS[i];
        double pi1 = k * share / (k * share + 1 - share);
        logs[i] =
            canaryFailures * Math.log(pi1 / pi0) + stableFailures * Math.log((1 - pi1) / (1 - pi0));
        max = Math.max(max, logs[i]);
      }
      double sum = 0;
      for (double l : logs) {
        sum += Math.exp(l - max);
      }
      double logRatio = max + Math.log(sum / EFFECTS.length);
      ratio = Math.exp(Math.min(logRatio, 700));
    }
    double p = Math.min(1, 1 / ratio);
    return new Result(
        canaryRequests, canaryFailures, stableRequests, stableFailures, ratio, p, p <= alpha);
  }
}
