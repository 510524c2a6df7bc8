package io.weighbridge.adapter.prometheus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.adapter.prometheus.SyntheticWorkloadExporter.TraefikScheme;
import io.weighbridge.domain.analysis.AnalysisConfig;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisConfigParser;
import io.weighbridge.domain.analysis.Analyzer;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Plane;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import io.weighbridge.domain.analysis.Verdict;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The analyzer against a real Prometheus scraping the synthetic workload every second. All
 * workloads start together; each test judges its own pair of Services. Backends spread their
 * outcomes evenly (see {@link SyntheticWorkloadExporter.Backend#evenlySpread()}), so each
 * scenario's outcome follows from its rates, not from luck; each asserts the specific check that
 * decides it.
 */
class PrometheusAnalyzerIT {

  private static final String NS = "shop";
  private static SyntheticWorkloadExporter exporter;
  private static PrometheusProcess prometheus;
  private static Analyzer analyzer;
  private static Instant since;

  @BeforeAll
  static void start() throws Exception {
    exporter = new SyntheticWorkloadExporter(7, Clock.systemUTC());
    since = Instant.now();
    pair("healthy", false, TraefikScheme.OLD, 45, 0.005, 5, 0.005);
    pair("outage", false, TraefikScheme.NEW, 45, 0.005, 5, 1.0);
    pair("subtle", false, TraefikScheme.OLD, 80, 0.005, 20, 0.05);
    // median 0.15 s instead of 0.05 s: 8% of canary requests above stable's p95 bucket (0.3 s)
    pair("slow", false, TraefikScheme.NEW, 80, 0.005, 20, 0.005).latency(0.15);
    pair("lowtraffic", false, TraefikScheme.OLD, 99, 0.005, 1, 1.0);
    pair("grpcmesh", true, TraefikScheme.OLD, 45, 0.005, 5, 1.0);
    exporter.gauge("queue_depth{service=\"nan-canary\"}", Double.NaN);
    exporter.gauge("queue_depth{service=\"nan-stable\"}", 3);
    prometheus = PrometheusProcess.start(exporter.target());
    analyzer =
        new Analyzer(new PrometheusClient(PrometheusSettings.of(URI.create(prometheus.url()))));
  }

  private static SyntheticWorkloadExporter.Backend pair(
      String app,
      boolean grpc,
      TraefikScheme scheme,
      double stableRps,
      double stableErrors,
      double canaryRps,
      double canaryErrors) {
    exporter
        .backend(NS, app + "-stable", app, grpc, scheme)
        .rate(stableRps)
        .errors(stableErrors)
        .evenlySpread();
    return exporter
        .backend(NS, app + "-canary", app, grpc, scheme)
        .rate(canaryRps)
        .errors(canaryErrors)
        .evenlySpread();
  }

  @AfterAll
  static void stop() {
    if (prometheus != null) {
      prometheus.close();
    }
    if (exporter != null) {
      exporter.close();
    }
  }

  private static RolloutAnalysisTarget target(
      String app, Plane plane, boolean grpc, AnalysisConfig config) {
    return new RolloutAnalysisTarget(
        NS,
        app,
        app + "-canary",
        app + "-stable",
        "c0ffee",
        "beef00",
        List.of(new Route(NS, app, grpc, plane)),
        since,
        config);
  }

  private static Verdict evaluate(RolloutAnalysisTarget t) {
    return analyzer.evaluate(t, Instant.now());
  }

  @Test
  @DisplayName("When the canary is as healthy as stable, then none of 40 looks per plane fails it")
  void healthyCanary() {
    for (Plane plane : Plane.values()) {
      RolloutAnalysisTarget t = target("healthy", plane, false, AnalysisConfig.DEFAULTS);
      List<Verdict> seen = new CopyOnWriteArrayList<>();
      // a look a second until the canary has 150 requests (about 30 s at 5 req/s), at most 40
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () -> {
                Verdict v = evaluate(t);
                seen.add(v);
                return seen.size() >= 40
                    || (v.checks().get(0).canarySamples() >= 150
                        && v.outcome() != Outcome.INCONCLUSIVE);
              });
      assertThat(seen)
          .as("verdicts for %s", plane)
          .allSatisfy(v -> assertThat(v.outcome()).as(v.describe()).isNotEqualTo(Outcome.FAILED));
      Verdict last = seen.get(seen.size() - 1);
      assertThat(last.outcome()).as(last.describe()).isEqualTo(Outcome.HEALTHY);
      String source = plane == Plane.NORTH_SOUTH ? "traefik" : "linkerd";
      assertThat(last.checks())
          .extracting(Verdict.CheckResult::name)
          .containsExactly("success-rate/" + source, "latency/" + source);
      assertThat(last.checks()).allSatisfy(c -> assertThat(c.canarySamples()).isGreaterThan(100));
    }
  }

  @Test
  @DisplayName("When the canary fails every request (Traefik >= 3.7.6 labels), then it is aborted")
  void fullyFailingCanary() {
    RolloutAnalysisTarget t = target("outage", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS);
    Verdict v = awaitFailed(t);
    assertThat(v.action()).contains(Action.ABORT);
    assertThat(check(v, "success-rate/traefik").outcome())
        .as(v.describe())
        .isEqualTo(Outcome.FAILED);
    assertThat(v.describe()).contains("canary 1.000");
  }

  @Test
  @DisplayName("When stable fails 0.5% and the canary 5%, then the success-rate check fails it")
  void subtleRegression() {
    Verdict v = awaitFailed(target("subtle", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS));
    Verdict.CheckResult c = check(v, "success-rate/traefik");
    assertThat(c.outcome()).as(v.describe()).isEqualTo(Outcome.FAILED);
    assertThat(c.canary()).isGreaterThan(c.stable());
    assertThat(c.pValue().getAsDouble())
        .isLessThanOrEqualTo(AnalysisConfig.Sensitivity.MEDIUM.alpha());
    // same latency on both sides: the latency check must not be what failed it
    assertThat(check(v, "latency/traefik").outcome()).as(v.describe()).isNotEqualTo(Outcome.FAILED);
  }

  @Test
  @DisplayName("When the canary is three times slower with the same errors, then latency fails it")
  void latencyRegression() {
    Verdict v = awaitFailed(target("slow", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS));
    Verdict.CheckResult c = check(v, "latency/traefik");
    assertThat(c.outcome()).as(v.describe()).isEqualTo(Outcome.FAILED);
    assertThat(c.reason()).contains("slower than 0.3 s (stable's p95 bucket)");
    assertThat(c.canary()).isGreaterThan(c.stable());
    assertThat(check(v, "success-rate/traefik").outcome())
        .as(v.describe())
        .isNotEqualTo(Outcome.FAILED);
    assertThat(v.action()).contains(Action.ABORT);
  }

  @Test
  @DisplayName("When a 1% canary fails at low traffic, then it is failed once enough requests came")
  void lowTrafficAtOnePercent() {
    Verdict v =
        awaitFailed(target("lowtraffic", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS));
    Verdict.CheckResult c = check(v, "success-rate/traefik");
    assertThat(c.outcome()).as(v.describe()).isEqualTo(Outcome.FAILED);
    assertThat(c.canarySamples()).isGreaterThanOrEqualTo(10);
  }

  @Test
  @DisplayName("When a gRPC mesh canary returns UNAVAILABLE, then the Linkerd check fails it")
  void grpcMeshCanary() {
    Verdict v = awaitFailed(target("grpcmesh", Plane.EAST_WEST, true, AnalysisConfig.DEFAULTS));
    assertThat(check(v, "success-rate/linkerd").outcome())
        .as(v.describe())
        .isEqualTo(Outcome.FAILED);
  }

  @Test
  @DisplayName("When no series exist for the Services, then the verdict is INCONCLUSIVE, no action")
  void missingData() {
    Verdict v = evaluate(target("ghost", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS));
    assertThat(v.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v.action()).isEmpty();
    assertThat(v.checks().get(0).reason()).contains("no data for canary requests");
  }

  @Test
  @DisplayName("When Prometheus is down, then the verdict is INCONCLUSIVE with the reason")
  void prometheusDown() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Analyzer down =
        new Analyzer(
            new PrometheusClient(PrometheusSettings.of(URI.create("http://127.0.0.1:" + port))));
    Verdict v =
        down.evaluate(
            target("outage", Plane.NORTH_SOUTH, false, AnalysisConfig.DEFAULTS), Instant.now());
    assertThat(v.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v.action()).isEmpty();
    assertThat(v.checks().get(0).reason()).contains("cannot reach Prometheus at http://127.0.0.1:");
  }

  @Test
  @DisplayName("When a custom check's query yields NaN, then it is INCONCLUSIVE, not a pass")
  void nanIsInconclusive() throws Exception {
    AnalysisConfig config =
        AnalysisConfigParser.parse(
            new ObjectMapper()
                .readTree(
                    "{\"analysis\": {\"successRate\": {\"enabled\": false}, \"latency\":"
                        + " {\"enabled\": false}, \"checks\": [{\"name\": \"queue\", \"query\":"
                        + " \"sum(queue_depth{service=\\\"{{service}}\\\"})\", \"max\": 10}]}}"),
            "p");
    RolloutAnalysisTarget t = target("nan", Plane.NORTH_SOUTH, false, config);
    Verdict v = evaluate(t);
    assertThat(v.outcome()).isEqualTo(Outcome.INCONCLUSIVE);
    assertThat(v.checks().get(0).reason()).contains("canary is NaN");
  }

  private static Verdict.CheckResult check(Verdict v, String name) {
    return v.checks().stream()
        .filter(c -> c.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no check " + name + " in\n" + v.describe()));
  }

  private static Verdict awaitFailed(RolloutAnalysisTarget t) {
    List<Verdict> last = new CopyOnWriteArrayList<>();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              Verdict v = evaluate(t);
              last.add(v);
              return v.outcome() == Outcome.FAILED;
            });
    return last.get(last.size() - 1);
  }
}
