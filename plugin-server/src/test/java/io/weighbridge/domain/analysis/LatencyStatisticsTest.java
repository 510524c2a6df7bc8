package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;

import io.weighbridge.domain.analysis.LatencyStatistics.Outcome;
import org.junit.jupiter.api.Test;

class LatencyStatisticsTest {

  @Test
  void withinTolerance() {
    assertThat(LatencyStatistics.compare(0.14, 100, 0.10, 1000, 0.5, 0.025, 50).outcome())
        .isEqualTo(Outcome.OK);
  }

  @Test
  void slowerThanTolerated() {
    LatencyStatistics.Result r = LatencyStatistics.compare(0.3, 100, 0.1, 1000, 0.5, 0.025, 50);
    assertThat(r.outcome()).isEqualTo(Outcome.WORSE);
    assertThat(r.ratio()).isCloseTo(3.0, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(r.reason()).contains("limit 0.1500");
  }

  @Test
  void tinyAbsoluteDifferencesNeverFail() {
    // 2 ms vs 4 ms is 100% slower but only 2 ms: below minDelta
    assertThat(LatencyStatistics.compare(0.004, 100, 0.002, 1000, 0.5, 0.025, 50).outcome())
        .isEqualTo(Outcome.OK);
  }

  @Test
  void tooFewSamplesOrNaN() {
    assertThat(LatencyStatistics.compare(5, 10, 0.1, 1000, 0.5, 0.025, 50).outcome())
        .isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(LatencyStatistics.compare(Double.NaN, 100, 0.1, 1000, 0.5, 0.025, 50).outcome())
        .isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(
            LatencyStatistics.compare(Double.POSITIVE_INFINITY, 100, 0.1, 1000, 0.5, 0.025, 50)
                .reason())
        .contains("highest histogram bucket");
  }
}
