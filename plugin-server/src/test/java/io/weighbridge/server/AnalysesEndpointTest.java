package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.http.AnalysesJson;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisCoordinator.AnalysisView;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Phase;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Snapshot;
import io.weighbridge.domain.analysis.Verdict;
import io.weighbridge.domain.analysis.Verdict.CheckResult;
import io.weighbridge.domain.analysis.Verdict.Outcome;
import io.weighbridge.fixtures.RecordingRouter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@code GET /api/v1/analyses} on a real HTTP port, in the shape the CLI's status reads. */
class AnalysesEndpointTest {

  private PluginServer server;
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private HttpResponse<String> request(String method, Snapshot snapshot) throws Exception {
    server =
        new PluginServer(
            ServerConfig.parse(
                new String[] {"--grpc-port=0", "--http-port=0", "--bind-address=127.0.0.1"},
                Map.of()),
            new RecordingRouter(),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    server.addJsonEndpoint(AnalysesJson.PATH, () -> AnalysesJson.render(snapshot));
    server.start();
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.httpPort() + AnalysesJson.PATH))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  @DisplayName(
      "When an analysis aborted a canary, then the JSON has the phase, weight and evidence")
  void abortedAnalysis() throws Exception {
    Instant since = Instant.parse("2026-11-28T09:00:00Z");
    CheckResult failed =
        new CheckResult(
            "success-rate/traefik",
            Outcome.FAILED,
            Optional.of(Action.ABORT),
            1.0,
            0.005,
            12,
            449,
            OptionalDouble.of(1.7e-11),
            "canary error rate is higher than stable's");
    CheckResult latency =
        new CheckResult(
            "latency/traefik",
            Outcome.INCONCLUSIVE,
            Optional.empty(),
            Double.NaN,
            0.2,
            -1,
            -1,
            OptionalDouble.empty(),
            "no buckets");
    Verdict v =
        new Verdict(
            "shop/web",
            since.plusSeconds(20),
            Outcome.FAILED,
            Optional.of(Action.ABORT),
            List.of(failed, latency));
    Snapshot snapshot =
        new Snapshot(
            true,
            "pod-a",
            List.of(new AnalysisView("shop", "web", Phase.ABORTED, 5, since, Optional.of(v))));

    HttpResponse<String> r = request("GET", snapshot);

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).contains("application/json");
    JsonNode json = new ObjectMapper().readTree(r.body());
    assertThat(json.path("leader").asBoolean()).isTrue();
    assertThat(json.path("identity").asText()).isEqualTo("pod-a");
    JsonNode a = json.path("analyses").get(0);
    assertThat(a.path("namespace").asText()).isEqualTo("shop");
    assertThat(a.path("rollout").asText()).isEqualTo("web");
    assertThat(a.path("phase").asText()).isEqualTo("ABORTED");
    assertThat(a.path("canaryWeight").asInt()).isEqualTo(5);
    assertThat(a.path("since").asText()).isEqualTo("2026-11-28T09:00:00Z");
    JsonNode verdict = a.path("verdict");
    assertThat(verdict.path("outcome").asText()).isEqualTo("FAILED");
    assertThat(verdict.path("reason").asText())
        .isEqualTo("success-rate/traefik: canary error rate is higher than stable's");
    JsonNode check = verdict.path("checks").get(0);
    assertThat(check.path("name").asText()).isEqualTo("success-rate/traefik");
    assertThat(check.path("outcome").asText()).isEqualTo("FAILED");
    assertThat(check.at("/canary/value").asDouble()).isEqualTo(1.0);
    assertThat(check.at("/canary/samples").asLong()).isEqualTo(12);
    assertThat(check.at("/stable/samples").asLong()).isEqualTo(449);
    assertThat(check.path("pValue").asDouble()).isEqualTo(1.7e-11);
    assertThat(check.path("detail").asText()).contains("higher");
    JsonNode unknown = verdict.path("checks").get(1);
    assertThat(unknown.at("/canary/value").isNull()).isTrue();
    assertThat(unknown.path("canary").has("samples")).isFalse();
  }

  @Test
  @DisplayName("When nothing is analysed, then an empty list; other methods are refused")
  void emptyAndMethods() throws Exception {
    HttpResponse<String> r = request("GET", new Snapshot(false, "pod-b", List.of()));
    assertThat(new ObjectMapper().readTree(r.body()).toString())
        .isEqualTo("{\"enabled\":true,\"leader\":false,\"identity\":\"pod-b\",\"analyses\":[]}");
    server.close();
    assertThat(request("POST", new Snapshot(false, "pod-b", List.of())).statusCode())
        .isEqualTo(405);
  }
}
