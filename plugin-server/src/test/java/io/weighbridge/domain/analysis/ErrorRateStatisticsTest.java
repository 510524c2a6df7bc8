package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ErrorRateStatisticsTest {

  private static final double ALPHA = AnalysisConfig.Sensitivity.MEDIUM.alpha();

  @Test
  void noFailuresIsNoEvidence() {
    ErrorRateStatistics.Result r = ErrorRateStatistics.test(1000, 0, 100_000, 500, ALPHA);
    assertThat(r.likelihoodRatio()).isEqualTo(1);
    assertThat(r.pValue()).isEqualTo(1);
    assertThat(r.significant()).isFalse();
  }

  @Test
  @DisplayName("When canary and stable fail at the same rate, then the test is not significant")
  void equalRates() {
    ErrorRateStatistics.Result r = ErrorRateStatistics.test(1000, 5, 99_000, 495, ALPHA);
    assertThat(r.significant()).isFalse();
    assertThat(r.canaryErrorRate()).isEqualTo(0.005);
  }

  @Test
  @DisplayName("When the canary is better than stable, then the one-sided test never fires")
  void canaryBetter() {
    ErrorRateStatistics.Result r = ErrorRateStatistics.test(10_000, 0, 10_000, 500, ALPHA);
    assertThat(r.significant()).isFalse();
    ErrorRateStatistics.Result r2 = ErrorRateStatistics.test(10_000, 10, 10_000, 500, ALPHA);
    assertThat(r2.pValue()).isEqualTo(1);
  }

  @Test
  @DisplayName("When a 1% canary fails every request, then a handful of requests suffices")
  void totalOutage() {
    // 1% canary of 100 rps for 6 s: 6 canary requests, all failed; stable at 0.5%
    ErrorRateStatistics.Result r = ErrorRateStatistics.test(6, 6, 594, 3, ALPHA);
    assertThat(r.significant()).isTrue();
    assertThat(r.pValue()).isLessThan(1e-3);
  }

  @Test
  @DisplayName(
      "When stable fails 0.5% and canary 5%, then it is detected with ~200 canary requests")
  void subtleRegression() {
    assertThat(ErrorRateStatistics.test(40, 2, 3960, 20, ALPHA).significant()).isFalse();
    assertThat(ErrorRateStatistics.test(300, 15, 29_700, 148, ALPHA).significant()).isTrue();
  }

  @Test
  void hugeCountsDoNotOverflow() {
    ErrorRateStatistics.Result r =
        ErrorRateStatistics.test(10_000_000, 5_000_000, 10_000_000, 1000, ALPHA);
    assertThat(r.likelihoodRatio()).isFinite();
    assertThat(r.significant()).isTrue();
  }

  @Test
  void rejectsImpossibleCounts() {
    assertThatThrownBy(() -> ErrorRateStatistics.test(1, 2, 10, 0, ALPHA))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("failures <= requests");
    assertThatThrownBy(() -> ErrorRateStatistics.test(10, 1, 10, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  @DisplayName(
      "When a healthy canary is looked at every 5 s for 30 min, then false alarms stay under alpha")
  void repeatedLooksKeepTheFalsePositiveRate() {
    // 2000 healthy analyses: 1% canary of 100 rps, both at 1% errors, 360 looks each. A
    // fixed-sample test at the same alpha would alarm in a large share of them.
    SplittableRandom random = new SplittableRandom(42);
    double alpha = 0.01;
    int runs = 2000;
    int alarms = 0;
    int naiveAlarms = 0;
    for (int run = 0; run < runs; run++) {
      long cn = 0;
      long cf = 0;
      long sn = 0;
      long sf = 0;
      boolean alarmed = false;
      boolean naive = false;
      for (int look = 0; look < 360 && !alarmed; look++) {
        for (int i = 0; i < 500; i++) {
          boolean canary = random.nextDouble() < 0.01;
          boolean failed = random.nextDouble() < 0.01;
          if (canary) {
            cn++;
            cf += failed ? 1 : 0;
          } else {
            sn++;
            sf += failed ? 1 : 0;
          }
        }
        alarmed = ErrorRateStatistics.test(cn, cf, sn, sf, alpha).significant();
        naive |= naiveZTestSignificant(cn, cf, sn, sf);
      }
      alarms += alarmed ? 1 : 0;
      naiveAlarms += naive ? 1 : 0;
    }
    assertThat((double) alarms / runs).isLessThanOrEqualTo(alpha);
    assertThat(naiveAlarms).isGreaterThan(alarms * 5);
  }

  /** A one-sided pooled two-proportion z-test at 1%, the test one must not repeat. */
  private static boolean naiveZTestSignificant(long cn, long cf, long sn, long sf) {
    if (cn == 0 || sn == 0) {
      return false;
    }
    double p = (double) (cf + sf) / (cn + sn);
    double se = Math.sqrt(p * (1 - p) * (1.0 / cn + 1.0 / sn));
    return se > 0 && ((double) cf / cn - (double) sf / sn) / se > 2.326;
  }
}
