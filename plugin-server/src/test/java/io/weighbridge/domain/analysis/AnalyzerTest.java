package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;

import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.MetricsSource.QueryResult;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Plane;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Side;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class AnalyzerTest {

  private static final Instant SINCE = Instant.parse("2026-01-01T00:00:00Z");
  private static final Instant NOW = SINCE.plusSeconds(95);

  static RolloutAnalysisTarget target(AnalysisConfig config, Plane plane, boolean grpc) {
    return new RolloutAnalysisTarget(
        "shop",
        "web",
        "web-canary",
        "web-stable",
        "abc123",
        "def456",
        List.of(new Route("shop", "web-route", grpc, plane)),
        SINCE,
        config);
  }

  /** Answers the built-in queries from fixed figures per side. */
  private static final class FakeMetrics implements MetricsSource {
    final Map<Side, double[]> figures; // requests, failures, latency
    final List<String> queries = new ArrayList<>();

    FakeMetrics(double[] canary, double[] stable) {
      figures = Map.of(Side.CANARY, canary, Side.STABLE, stable);
    }

    @Override
    public QueryResult query(String promql, Instant time) {
      queries.add(promql);
      double[] f = figures.get(promql.contains("web-canary") ? Side.CANARY : Side.STABLE);
      double v = promql.contains("or vector(0)") ? f[1] : f[0];
      return Double.isNaN(v) && f.length > 3
          ? new QueryResult.NoData("query returned no series")
          : new QueryResult.Value(v);
    }

    /** Every request of a side took f[2] seconds; buckets are Traefik's defaults. */
    @Override
    public QueryResult histogram(String promql, Instant time) {
      queries.add(promql);
      double[] f = figures.get(promql.contains("web-canary") ? Side.CANARY : Side.STABLE);
      if (!Double.isFinite(f[0])) {
        return new QueryResult.NoData("query returned no series");
      }
      java.util.TreeMap<Double, Double> m = new java.util.TreeMap<>();
      for (double b : new double[] {0.1, 0.3, 1.2, 5, Double.POSITIVE_INFINITY}) {
        m.put(b, f[2] <= b ? f[0] : 0);
      }
      return new QueryResult.Buckets(new LatencyStatistics.Histogram(m));
    }
  }

  @Test
  @DisplayName("When canary and stable look alike, then the verdict is HEALTHY with evidence")
  void healthy() {
    FakeMetrics m = new FakeMetrics(new double[] {1000, 5, 0.1}, new double[] {99000, 500, 0.1});
    Verdict v =
        new Analyzer(m).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.HEALTHY);
    assertThat(v.action()).isEmpty();
    assertThat(v.checks())
        .extracting(Verdict.CheckResult::name)
        .containsExactly("success-rate/traefik", "latency/traefik");
    assertThat(v.checks().get(0).canarySamples()).isEqualTo(1000);
    assertThat(v.checks().get(0).pValue()).isPresent();
    assertThat(m.queries).allMatch(q -> !q.contains("[") || q.contains("[95s]"));
    assertThat(m.queries.get(0)).contains("traefik_service_requests_total");
  }

  @Test
  @DisplayName("When the canary fails far more often, then the verdict is FAILED -> abort")
  void failing() {
    FakeMetrics m = new FakeMetrics(new double[] {100, 40, 0.1}, new double[] {9900, 50, 0.1});
    Verdict v =
        new Analyzer(m).evaluate(target(AnalysisConfig.DEFAULTS, Plane.EAST_WEST, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.FAILED);
    assertThat(v.action()).contains(Action.ABORT);
    assertThat(v.checks(Outcome.FAILED))
        .extracting(Verdict.CheckResult::name)
        .containsExactly("success-rate/linkerd");
    assertThat(v.describe()).contains("success-rate/linkerd FAILED: canary 0.4000 (n=100)");
    assertThat(m.queries.get(0)).contains("outbound_(http|grpc)_route_backend_response_statuses");
  }

  @Test
  @DisplayName("When every canary request is slower than stable's p95 bucket, then latency fails")
  void slowCanaryFailsLatency() {
    FakeMetrics m = new FakeMetrics(new double[] {1000, 5, 0.9}, new double[] {99000, 500, 0.1});
    Verdict v =
        new Analyzer(m).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.FAILED);
    Verdict.CheckResult latency = v.checks(Outcome.FAILED).get(0);
    assertThat(v.checks(Outcome.FAILED))
        .extracting(Verdict.CheckResult::name)
        .containsExactly("latency/traefik");
    assertThat(latency.pValue()).isPresent();
    assertThat(latency.reason()).contains("slower than 0.1 s").contains("1000/1000");
    assertThat(m.queries)
        .anyMatch(q -> q.startsWith("sum by (le) (increase(traefik_service_request_duration"));
  }

  @Test
  @DisplayName("When the canary's quantile is above maxSeconds, then the absolute limit fails it")
  void absoluteLatencyLimit() throws Exception {
    // both sides equally slow: the relative rule passes, the absolute one does not
    FakeMetrics m = new FakeMetrics(new double[] {1000, 5, 0.9}, new double[] {99000, 500, 0.9});
    AnalysisConfig config =
        AnalysisConfigParser.parse(
            new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree("{\"analysis\": {\"latency\": {\"maxSeconds\": 0.5}}}"),
            "p");
    Verdict v = new Analyzer(m).evaluate(target(config, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.checks(Outcome.FAILED))
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.name()).isEqualTo("latency/traefik");
              assertThat(c.reason()).contains("above the absolute limit maxSeconds=0.5");
            });
    Verdict ok =
        new Analyzer(m).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(ok.outcome()).isEqualTo(Outcome.HEALTHY);
  }

  @Test
  @DisplayName("When too few canary requests arrived, then nothing fails yet")
  void waitsForMinSamples() {
    FakeMetrics m = new FakeMetrics(new double[] {5, 5, 9}, new double[] {500, 0, 0.1});
    Verdict v =
        new Analyzer(m).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.HEALTHY);
    assertThat(v.checks().get(0).reason()).contains("waiting for 10 canary requests");
  }

  @Test
  @DisplayName("When a series is absent or NaN, then the verdict is INCONCLUSIVE and does nothing")
  void missingAndNaN() {
    FakeMetrics absent =
        new FakeMetrics(new double[] {Double.NaN, 0, 0.1, 1}, new double[] {9900, 50, 0.1});
    Verdict v =
        new Analyzer(absent)
            .evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v.action()).isEmpty();
    assertThat(v.checks().get(0).reason()).contains("no data for canary requests");

    FakeMetrics nan =
        new FakeMetrics(new double[] {Double.NaN, 0, 0.1}, new double[] {9900, 50, 0.1});
    Verdict v2 =
        new Analyzer(nan).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v2.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v2.checks().get(0).reason()).contains("canary requests is NaN");
  }

  @Test
  @DisplayName("When Prometheus is down and the user asked to abort on inconclusive, then abort")
  void unavailable() throws Exception {
    MetricsSource down =
        new MetricsSource() {
          @Override
          public QueryResult query(String promql, Instant time) {
            throw new UnavailableException(
                "Prometheus at http://127.0.0.1:1 refused the connection");
          }

          @Override
          public QueryResult histogram(String promql, Instant time) {
            return query(promql, time);
          }
        };
    Verdict v =
        new Analyzer(down).evaluate(target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v.action()).isEmpty();
    assertThat(v.checks().get(0).reason()).contains("metrics unavailable").contains("refused");

    AnalysisConfig abortOnInconclusive =
        AnalysisConfigParser.parse(
            new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree("{\"analysis\": {\"onInconclusive\": \"abort\"}}"),
            "p");
    Verdict v2 =
        new Analyzer(down).evaluate(target(abortOnInconclusive, Plane.NORTH_SOUTH, false), NOW);
    assertThat(v2.action()).contains(Action.ABORT);
  }

  @Test
  void gRpcQueriesUseGrpcCodes() {
    RolloutAnalysisTarget t = target(AnalysisConfig.DEFAULTS, Plane.EAST_WEST, true);
    BuiltInQueries.SideQueries traefik = BuiltInQueries.forSide("traefik", t, Side.CANARY, "60s");
    assertThat(traefik.errors())
        .contains("protocol=\"grpc\",code=~\"2|4|12|13|14|15\"")
        .contains("protocol!=\"grpc\",code=~\"5..\"");
    BuiltInQueries.SideQueries linkerd = BuiltInQueries.forSide("linkerd", t, Side.CANARY, "60s");
    assertThat(linkerd.errors())
        .contains("grpc_status=~\"UNKNOWN|2|DEADLINE_EXCEEDED|4|")
        .contains("error!=\"\"")
        .contains("backend_name=\"web-canary\",backend_namespace=\"shop\"");
  }

  @Test
  @DisplayName(
      "When the Traefik service label uses any naming scheme (HTTP, gRPC, v3.7.6+), then the regex matches")
  void traefikSchemes() {
    String re = BuiltInQueries.traefikServiceRegex("shop", "web-canary");
    assertThat("shop-web-canary-http-8080@kubernetesgateway").matches(re);
    // A GRPCRoute backend in Traefik v3.6 (found with a real Traefik: the regex missed it before).
    assertThat("shop-web-canary-9000-grpc@kubernetesgateway").matches(re);
    assertThat("shop-web-stable-9000-grpc@kubernetesgateway").doesNotMatch(re);
    assertThat(
            "httproute-shop-web-route-gw-ep-web-0-rule-0-svc-shop-web-canary-0@kubernetesgateway")
        .matches(re);
    assertThat("shop-web-stable-http-8080@kubernetesgateway").doesNotMatch(re);
    assertThat("other-web-canary-http-8080@kubernetesgateway").doesNotMatch(re);
  }

  @Test
  void customTemplates() {
    RolloutAnalysisTarget t = target(AnalysisConfig.DEFAULTS, Plane.NORTH_SOUTH, false);
    assertThat(
            Analyzer.render(
                "x{ns=\"{{namespace}}\",svc=\"{{service}}\",h=\"{{podTemplateHash}}\","
                    + "r=~\"{{routes}}\",o=\"{{stableHash}}\"}[{{window}}]",
                t,
                Side.CANARY,
                "95s"))
        .isEqualTo(
            "x{ns=\"shop\",svc=\"web-canary\",h=\"abc123\",r=~\"web-route\",o=\"def456\"}[95s]");
  }

  @Test
  void windowIsAtLeastTenSeconds() {
    assertThat(Analyzer.window(SINCE, SINCE.plusSeconds(3))).isEqualTo("10s");
    assertThat(Analyzer.window(SINCE, SINCE.plusSeconds(300))).isEqualTo("300s");
  }
}
