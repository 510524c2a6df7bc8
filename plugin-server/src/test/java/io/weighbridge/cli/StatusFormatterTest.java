package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.cli.StatusReport.AnalyzerInfo;
import io.weighbridge.cli.StatusReport.ManagedRule;
import io.weighbridge.cli.StatusReport.RolloutStatus;
import io.weighbridge.cli.StatusReport.RouteStatus;
import io.weighbridge.cli.StatusReport.RuleWeights;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The text {@code status} prints. */
class StatusFormatterTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static RolloutStatus rollout(List<RouteStatus> routes, String error, String analysis)
      throws Exception {
    return new RolloutStatus(
        "shop",
        "web",
        "weighbridge/gateway-api",
        "Paused",
        "CanaryPauseStep",
        true,
        false,
        2,
        4,
        30,
        30,
        100,
        true,
        routes,
        error,
        analysis == null ? null : JSON.readTree(analysis));
  }

  @Test
  @DisplayName(
      "When a canary runs with drift and a verdict, then the table, drift diff and checks show")
  void fullReport() throws Exception {
    RouteStatus web =
        new RouteStatus(
            "HTTPRoute",
            "shop",
            "web",
            true,
            List.of(
                new RuleWeights(0, null, 70, 50, null),
                new RuleWeights(2, "canary-header", null, 100, "canary-header")),
            List.of(new ManagedRule("canary-header", "header", "canary-header")),
            "rollouts.argoproj.io/gatewayapi-canary=in-progress",
            true,
            List.of(
                "-   backendRef web-canary:80 weight 50",
                "+   backendRef web-canary:80 weight 30"));
    RouteStatus gone =
        new RouteStatus(
            "GRPCRoute", "shop", "gone", false, List.of(), List.of(), null, null, List.of());
    StatusReport report =
        new StatusReport(
            "shop",
            new AnalyzerInfo("http://localhost:8080", "ok", null, true, "weighbridge-0"),
            List.of(
                rollout(
                    List.of(web, gone),
                    "GRPCRoute shop/gone (from grpcRoutes[0]) does not exist",
                    """
                    {"phase":"ANALYZING","canaryWeight":30,"since":"2026-11-28T09:00:00Z",
                     "verdict":{"outcome":"PASSED","reason":"ok",
                      "checks":[{"name":"latency-p99","outcome":"PASSED",
                                 "canary":{"p99":0.1234567},"stable":{"p99":0.1},"detail":"fine"}]}}
                    """)));

    assertThat(StatusFormatter.text(report))
        .isEqualTo(
            """
            Rollout shop/web  (plugin weighbridge/gateway-api)
              phase Paused, paused, step 2/4 (setWeight 30), canary weight 30/100, verified
              message: CanaryPauseStep
              ROUTE                RULE               STABLE  CANARY  MANAGED BY     DRIFT
              HTTPRoute shop/web   0                  70      50                     YES
              HTTPRoute shop/web   2 "canary-header"  -       100     canary-header  YES
              GRPCRoute shop/gone  -                  -       -       -              route does not exist
              HTTPRoute shop/web managed rules: header "canary-header" (rule "canary-header")
              HTTPRoute shop/web label rollouts.argoproj.io/gatewayapi-canary=in-progress
              drift on HTTPRoute shop/web: not what weight 30 makes it; plugin-server restores it while the canary runs, or at Argo's next reconcile:
                  -   backendRef web-canary:80 weight 50
                  +   backendRef web-canary:80 weight 30
              error: GRPCRoute shop/gone (from grpcRoutes[0]) does not exist
              analysis: ANALYZING at canary weight 30 since 2026-11-28T09:00:00Z
                verdict PASSED: ok
                CHECK        OUTCOME  CANARY      STABLE      DETAIL
                latency-p99  PASSED   p99=0.1235  p99=0.1000  fine

            Analyzer verdicts from http://localhost:8080 (replica weighbridge-0).
            """);
  }

  @Test
  @DisplayName("When the analyzer was not asked or is unreachable, then the output says so")
  void analyzerStates() throws Exception {
    StatusReport notAsked =
        new StatusReport(
            "shop", new AnalyzerInfo(null, "not-queried", null, null, null), List.of());
    assertThat(StatusFormatter.text(notAsked))
        .isEqualTo(
            """
            No Rollout in namespace shop routes traffic with Weighbridge.
            Analyzer verdicts: not queried (pass --server-url, e.g. http://weighbridge.argo-rollouts.svc:8080, or a port-forward to it).
            """);

    StatusReport unreachable =
        new StatusReport(
            null,
            new AnalyzerInfo(
                "http://x:8080", "unreachable", "cannot reach http://x:8080", null, null),
            List.of(rollout(List.of(), null, null)));
    assertThat(StatusFormatter.text(unreachable))
        .contains("Analyzer verdicts: unavailable: cannot reach http://x:8080")
        .doesNotContain("analysis:");

    StatusReport noEntry =
        new StatusReport(
            "shop",
            new AnalyzerInfo("http://x:8080", "ok", null, false, "weighbridge-1"),
            List.of(rollout(List.of(), null, null)));
    assertThat(StatusFormatter.text(noEntry))
        .contains("analysis: none (the analyzer is not analysing this Rollout)")
        .contains("this replica does not lead the analyzer: it judges nothing");
  }

  @Test
  @DisplayName(
      "When a check side has the analyzer's value and samples, then counts stay whole and an"
          + " unknown value shows as -")
  void checkSides() throws Exception {
    ObjectMapper json = new ObjectMapper();
    assertThat(StatusFormatter.compact(json.readTree("{\"value\":0.005,\"samples\":449}")))
        .isEqualTo("value=0.005000 samples=449");
    assertThat(StatusFormatter.compact(json.readTree("{\"value\":null}"))).isEqualTo("value=-");
  }
}
