package io.weighbridge.domain.analysis;

/**
 * Compares the canary's latency quantile with stable's. Histogram quantiles have no sampling
 * distribution we could test without the raw buckets, so this is a tolerance rule applied to
 * cumulative data (which settles as samples accumulate): the canary is worse when its quantile
 * exceeds stable's by more than {@code tolerance} (relative) AND by more than {@code minDelta}
 * seconds (so tiny absolute differences never abort), once both sides have enough samples.
 */
public final class LatencyStatistics {

  private LatencyStatistics() {}

  /** The judgement. */
  public enum Outcome {
    /** Within tolerance. */
    OK,
    /** Slower than tolerated. */
    WORSE,
    /** Too few samples or no usable numbers. */
    INCONCLUSIVE;
  }

  /**
   * The result with its evidence.
   *
   * @param outcome the judgement
   * @param canarySeconds the canary's quantile
   * @param stableSeconds stable's quantile
   * @param ratio canary / stable
   * @param reason why, in words
   */
  public record Result(
      Outcome outcome, double canarySeconds, double stableSeconds, double ratio, String reason) {}

  /** Judges one look. */
  public static Result compare(
      double canarySeconds,
      long canarySamples,
      double stableSeconds,
      long stableSamples,
      double tolerance,
      double minDeltaSeconds,
      long minSamples) {
    double ratio = canarySeconds / stableSeconds;
    if (!Double.isFinite(canarySeconds) || !Double.isFinite(stableSeconds)) {
      return new Result(
          Outcome.INCONCLUSIVE,
          canarySeconds,
          stableSeconds,
          ratio,
          "latency quantile is not a finite number (canary "
              + canarySeconds
              + " s, stable "
              + stableSeconds
              + " s): no samples yet, or every sample is above the highest histogram bucket");
    }
    if (canarySamples < minSamples || stableSamples < minSamples) {
      return new Result(
          Outcome.INCONCLUSIVE,
          canarySeconds,
          stableSeconds,
          ratio,
          "too few requests to judge latency (canary "
              + canarySamples
              + ", stable "
              + stableSamples
              + ", need "
              + minSamples
              + " each)");
    }
    double limit = Math.max(stableSeconds * (1 + tolerance), stableSeconds + minDeltaSeconds);
    if (canarySeconds > limit) {
      return new Result(
          Outcome.WORSE,
          canarySeconds,
          stableSeconds,
          ratio,
          String.format(
              "canary %.4f s > limit %.4f s (stable %.4f s, tolerance %.0f%%, min delta %.3f s)",
              canarySeconds, limit, stableSeconds, tolerance * 100, minDeltaSeconds));
    }
    return new Result(
        Outcome.OK,
        canarySeconds,
        stableSeconds,
        ratio,
        String.format("canary %.4f s <= limit %.4f s", canarySeconds, limit));
  }
}
