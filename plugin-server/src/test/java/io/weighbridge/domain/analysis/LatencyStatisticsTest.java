package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.weighbridge.domain.analysis.LatencyStatistics.Histogram;
import io.weighbridge.domain.analysis.LatencyStatistics.Outcome;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class LatencyStatisticsTest {

  private static final double INF = Double.POSITIVE_INFINITY;

  /** A histogram from alternating bound, cumulative count pairs. */
  static Histogram histogram(double... boundsAndCounts) {
    TreeMap<Double, Double> m = new TreeMap<>();
    for (int i = 0; i < boundsAndCounts.length; i += 2) {
      m.put(boundsAndCounts[i], boundsAndCounts[i + 1]);
    }
    return new Histogram(m);
  }

  @Test
  @DisplayName("When reading a histogram, then bound, quantile and slow counts follow its buckets")
  void histogramReading() {
    Histogram h = histogram(0.1, 800, 0.3, 960, 1.2, 990, 5, 1000, INF, 1000);
    assertThat(h.total()).isEqualTo(1000);
    assertThat(h.boundAtOrAbove(0.95)).isEqualTo(0.3);
    assertThat(h.boundAtOrAbove(0.5)).isEqualTo(0.1);
    assertThat(h.slowerThan(0.3)).isEqualTo(40);
    // like histogram_quantile: rank 950 lies 150/160 into (0.1, 0.3]
    assertThat(h.quantile(0.95)).isCloseTo(0.1 + 0.2 * 150 / 160, within(1e-9));
    assertThat(histogram(0.1, 0, INF, 10).quantile(0.95)).isEqualTo(INF);
    assertThat(histogram(0.1, 0, INF, 10).boundAtOrAbove(0.95)).isNaN();
  }

  @Test
  @DisplayName("When increase() extrapolation makes a bucket dip, then counts stay cumulative")
  void extrapolationDipsAreSmoothed() {
    Histogram h = histogram(0.1, 50.4, 0.3, 50.1, INF, 60);
    assertThat(h.slowerThan(0.3)).isEqualTo(10);
  }

  @Test
  @DisplayName("When the canary has most of its requests above stable's p95 bound, then WORSE")
  void slowCanaryIsWorse() {
    Histogram stable = histogram(0.1, 9000, 0.3, 9800, 1.2, 9990, 5, 10000, INF, 10000);
    Histogram canary = histogram(0.1, 20, 0.3, 40, 1.2, 95, 5, 100, INF, 100);
    LatencyStatistics.Result r = LatencyStatistics.compare(canary, stable, 0.95, 0.5, 0.002);
    assertThat(r.outcome()).isEqualTo(Outcome.WORSE);
    assertThat(r.bound()).isEqualTo(0.3);
    assertThat(r.test().canaryFailures()).isEqualTo(60);
    assertThat(r.test().stableFailures()).isEqualTo(200);
    assertThat(r.reason()).contains("slower than 0.3 s (stable's p95 bucket)").contains("60/100");
  }

  @Test
  @DisplayName("When the canary is as fast as stable, then OK with the evidence in the reason")
  void sameLatencyIsOk() {
    Histogram stable = histogram(0.1, 9000, 0.3, 9800, 1.2, 9990, 5, 10000, INF, 10000);
    Histogram canary = histogram(0.1, 88, 0.3, 97, 1.2, 100, 5, 100, INF, 100);
    LatencyStatistics.Result r = LatencyStatistics.compare(canary, stable, 0.95, 0.5, 0.002);
    assertThat(r.outcome()).isEqualTo(Outcome.OK);
    assertThat(r.reason()).contains("no evidence the canary is slower by more than 50%");
  }

  @Test
  @DisplayName("When there is no bound at stable's quantile or no requests, then INCONCLUSIVE")
  void inconclusive() {
    Histogram stable = histogram(0.1, 10, 5, 50, INF, 1000);
    Histogram canary = histogram(0.1, 10, 5, 50, INF, 100);
    LatencyStatistics.Result r = LatencyStatistics.compare(canary, stable, 0.95, 0.5, 0.002);
    assertThat(r.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(r.reason()).contains("above the highest histogram bucket (5.0 s)");
    assertThat(
            LatencyStatistics.compare(histogram(0.1, 0, INF, 0), stable, 0.95, 0.5, 0.002)
                .outcome())
        .isEqualTo(Outcome.INCONCLUSIVE);
  }

  // --- simulated analyses: 1% canary of 100 req/s, a look every 5 s --------------------------

  /** Cumulative probabilities at the bounds; the rest lies in +Inf. */
  private record Dist(double[] bounds, double[] cdf) {}

  /** Linkerd's buckets; stable's p95 sits exactly on the 0.25 s bound (the bound flips). */
  private static final Dist ON_A_BOUND =
      new Dist(
          new double[] {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5},
          new double[] {0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, 0.9999});

  /** Traefik's default buckets; p95 inside (0.1, 0.3], 4% of requests above 0.3 s. */
  private static final Dist TRAEFIK =
      new Dist(new double[] {0.1, 0.3, 1.2, 5}, new double[] {0.85, 0.96, 0.995, 0.9999});

  /** Everything about twice as slow as ON_A_BOUND (one bucket to the right). */
  private static final Dist TWICE_AS_SLOW =
      new Dist(
          ON_A_BOUND.bounds(), new double[] {0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999});

  /** 1.3x stable's slow share above 0.25 s: a shift below the default 50% margin. */
  private static final Dist SLIGHTLY_SLOWER =
      new Dist(
          ON_A_BOUND.bounds(),
          new double[] {0.01, 0.05, 0.2, 0.5, 0.78, 0.935, 0.985, 0.998, 0.9999});

  /** Counts per bound plus +Inf (index = bounds.length), cumulative on read. */
  private static final class Side {
    final long[] perBucket;

    Side(int bounds) {
      perBucket = new long[bounds + 1];
    }

    void add(Dist d, SplittableRandom r, int n) {
      for (int i = 0; i < n; i++) {
        double u = r.nextDouble();
        int b = 0;
        while (b < d.cdf().length && u >= d.cdf()[b]) {
          b++;
        }
        perBucket[b]++;
      }
    }

    Histogram histogram(Dist d) {
      TreeMap<Double, Double> m = new TreeMap<>();
      long running = 0;
      for (int i = 0; i < d.bounds().length; i++) {
        running += perBucket[i];
        m.put(d.bounds()[i], (double) running);
      }
      m.put(INF, (double) (running + perBucket[d.bounds().length]));
      return new Histogram(m);
    }
  }

  /** The look at which the check first said WORSE, or -1. */
  private static int firstWorse(
      long seed, Dist stable, Dist canary, int looks, double margin, double alpha) {
    SplittableRandom r = new SplittableRandom(seed);
    Side s = new Side(stable.bounds().length);
    Side c = new Side(canary.bounds().length);
    for (int look = 1; look <= looks; look++) {
      s.add(stable, r, 495);
      c.add(canary, r, 5);
      LatencyStatistics.Result res =
          LatencyStatistics.compare(c.histogram(canary), s.histogram(stable), 0.95, margin, alpha);
      if (res.outcome() == Outcome.WORSE) {
        return look;
      }
    }
    return -1;
  }

  private static double falseFailRate(Dist stable, Dist canary, int runs, double alpha) {
    int fails = 0;
    for (int run = 0; run < runs; run++) {
      if (firstWorse(run, stable, canary, 360, 0.5, alpha) >= 0) {
        fails++;
      }
    }
    return (double) fails / runs;
  }

  @Test
  @DisplayName(
      "When a healthy canary is looked at every 5 s for 30 min, then false fails stay within alpha")
  void healthyCanariesKeepTheFalseFailRate() {
    double alpha = AnalysisConfig.Sensitivity.HIGH.alpha();
    // stable's p95 on a bound is the worst case: the bound alternates between 0.25 and 0.5 s
    assertThat(falseFailRate(ON_A_BOUND, ON_A_BOUND, 1000, alpha)).isLessThanOrEqualTo(alpha);
    assertThat(falseFailRate(TRAEFIK, TRAEFIK, 1000, alpha)).isLessThanOrEqualTo(alpha);
  }

  @Test
  @DisplayName("When the canary is only 1.3x as often slow as stable, then the 50% margin holds")
  void slightShiftsBelowTheMarginDoNotFail() {
    double alpha = AnalysisConfig.Sensitivity.HIGH.alpha();
    assertThat(falseFailRate(ON_A_BOUND, SLIGHTLY_SLOWER, 500, alpha)).isLessThanOrEqualTo(alpha);
  }

  @Test
  @DisplayName("When the canary is twice as slow, then nearly every run detects it within 10 min")
  void realRegressionIsDetected() {
    double alpha = AnalysisConfig.Sensitivity.MEDIUM.alpha();
    int detected = 0;
    int runs = 200;
    for (int run = 0; run < runs; run++) {
      int look = firstWorse(10_000 + run, ON_A_BOUND, TWICE_AS_SLOW, 120, 0.5, alpha);
      if (look >= 0) {
        detected++;
      }
    }
    assertThat(detected).isGreaterThanOrEqualTo(runs * 95 / 100);
  }
}
