package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.http.AnalysesJson;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.adapter.prometheus.PrometheusProcess;
import io.weighbridge.adapter.prometheus.SyntheticWorkloadExporter;
import io.weighbridge.adapter.prometheus.SyntheticWorkloadExporter.TraefikScheme;
import io.weighbridge.cli.CliRun;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.RouterSettings;
import io.weighbridge.domain.routing.RoutingMetrics;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The CLI's {@code status --server-url} against the real {@code GET /api/v1/analyses} of a real
 * {@link PluginServer} whose analyzer is wired as {@link Main} wires it ({@link AnalyzerWiring}:
 * real Prometheus scraping a synthetic workload, Rollout informer, Lease leader election,
 * Kubernetes actions) on a real kube-apiserver. The analyzer and the CLI were built apart against
 * an agreed JSON shape; this proves the CLI shows what the analyzer serves.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental", argoRollouts = true)
class StatusAgainstAnalyzerIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ResourceDefinitionContext HTTP_ROUTES =
      context("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes");
  private static final ResourceDefinitionContext ROLLOUTS =
      context("argoproj.io", "v1alpha1", "Rollout", "rollouts");

  private static SyntheticWorkloadExporter exporter;
  private static PrometheusProcess prometheus;

  private KubernetesClient admin;
  private KubeApiServer apiServer;
  private String ns;

  /** A plugin name of this test only, so no other test's analyzer acts on its Rollout. */
  private String plugin;

  private final HttpClient http = HttpClient.newHttpClient();
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void startPrometheus() throws Exception {
    exporter = new SyntheticWorkloadExporter(13, Clock.systemUTC());
    prometheus = PrometheusProcess.start(exporter.target());
  }

  @AfterAll
  static void stopPrometheus() {
    if (prometheus != null) {
      prometheus.close();
    }
    if (exporter != null) {
      exporter.close();
    }
  }

  @BeforeEach
  void setUp(KubernetesClient client, KubeApiServer server, TestNamespace namespace) {
    admin = client;
    apiServer = server;
    ns = namespace.name();
    plugin = "weighbridge-it/" + ns;
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  @Test
  @DisplayName(
      "When the analyzer aborted a failing canary, then status --server-url shows exactly the"
          + " analysis the server's /api/v1/analyses serves: phase, weight, since, verdict and"
          + " evidence, with the replica that leads")
  void statusShowsTheRealAnalysis() throws Exception {
    exporter
        .backend(ns, "web-stable", "web", false, TraefikScheme.NEW)
        .rate(45)
        .errors(0.005)
        .evenlySpread();
    exporter
        .backend(ns, "web-canary", "web", false, TraefikScheme.NEW)
        .rate(5)
        .errors(1.0)
        .evenlySpread();
    int httpPort = startPluginServer();
    Rollout rollout = canaryStepAt5();
    router.setWeight(new Caller(plugin, "it"), rollout, 5, List.of());
    String url = "http://127.0.0.1:" + httpPort;

    await()
        .atMost(Duration.ofSeconds(90))
        .until(
            () -> entry(url).map(a -> a.path("phase").asText()),
            p -> p.equals(Optional.of("ABORTED")));
    JsonNode served = JSON.readTree(get(url + AnalysesJson.PATH));
    JsonNode entry = entry(url).orElseThrow();

    // the agreed shape (CONTEXT.md), from the real renderer of the real coordinator
    assertThat(served.path("leader").asBoolean()).isTrue();
    assertThat(served.path("identity").asText()).isEqualTo("weighbridge-it-0");
    assertThat(entry.path("canaryWeight").isInt()).isTrue();
    assertThat(entry.path("canaryWeight").asInt()).isEqualTo(5);
    assertThat(Instant.parse(entry.path("since").asText())).isBefore(Instant.now());
    JsonNode verdict = entry.path("verdict");
    assertThat(verdict.path("outcome").asText()).isEqualTo("FAILED");
    assertThat(verdict.path("reason").asText()).startsWith("success-rate/traefik: ");
    JsonNode check = verdict.path("checks").get(0);
    assertThat(check.path("name").asText()).isEqualTo("success-rate/traefik");
    assertThat(check.path("outcome").asText()).isEqualTo("FAILED");
    assertThat(check.path("canary").isObject()).isTrue();
    assertThat(check.path("stable").isObject()).isTrue();
    assertThat(check.path("detail").asText()).isNotBlank();
    long canarySamples = check.at("/canary/samples").asLong();
    assertThat(canarySamples).isPositive();

    CliRun json =
        cli("status", "-n", ns, "--server-url", url, "--plugin-names", plugin, "-o", "json");

    assertThat(json.code()).as(json.err()).isZero();
    JsonNode report = JSON.readTree(json.out());
    assertThat(report.at("/analyzer/state").asText()).isEqualTo("ok");
    assertThat(report.at("/analyzer/leader").asBoolean()).isTrue();
    assertThat(report.at("/analyzer/identity").asText()).isEqualTo("weighbridge-it-0");
    assertThat(report.at("/rollouts/0/name").asText()).isEqualTo("web");
    assertThat(report.at("/rollouts/0/analysis"))
        .as("the CLI shows the server's entry for the Rollout, unchanged")
        .isEqualTo(entry);

    CliRun text = cli("status", "web", "-n", ns, "--server-url", url, "--plugin-names", plugin);

    assertThat(text.code()).as(text.err()).isZero();
    assertThat(text.out())
        .contains(
            "analysis: ABORTED at canary weight 5 since " + entry.path("since").asText() + "\n")
        .contains("verdict FAILED: " + verdict.path("reason").asText() + "\n")
        .containsPattern(
            "success-rate/traefik\\s+FAILED\\s+value=1\\.000 samples="
                + canarySamples
                + "\\s+value=\\S+ samples=\\d+\\s+\\S")
        .contains("Analyzer verdicts from " + url + " (replica weighbridge-it-0).");

    // The same report from plugin-server's HTTP port (no JDK, no second JVM: kubectl get --raw)
    JsonNode served2 =
        JSON.readTree(
            get(
                url
                    + "/api/v1/status?namespace="
                    + ns
                    + "&plugin-names="
                    + plugin
                    + "&output=json"));
    assertThat(served2.at("/analyzer/state").asText()).isEqualTo("ok");
    assertThat(served2.at("/rollouts/0/analysis")).isEqualTo(entry(url).orElseThrow());
    String servedText =
        get(url + "/api/v1/status?rollout=web&namespace=" + ns + "&plugin-names=" + plugin);
    assertThat(servedText).contains("verdict FAILED: ");
    HttpResponse<String> bad =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "/api/v1/status?nope=1")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("unknown parameter 'nope'");
  }

  @Test
  @DisplayName(
      "When plugin-server runs without Prometheus, then status says the analyzer is disabled, not"
          + " that this replica does not lead")
  void statusSaysDisabledWithoutPrometheus() throws Exception {
    int httpPort = startPluginServer(false);
    canaryStepAt5();
    String url = "http://127.0.0.1:" + httpPort;

    CliRun json =
        cli("status", "-n", ns, "--server-url", url, "--plugin-names", plugin, "-o", "json");

    assertThat(json.code()).as(json.err()).isZero();
    JsonNode report = JSON.readTree(json.out());
    assertThat(report.at("/analyzer/state").asText()).isEqualTo("disabled");
    assertThat(report.at("/analyzer/detail").asText()).contains("--prometheus-url");
    CliRun text = cli("status", "web", "-n", ns, "--server-url", url, "--plugin-names", plugin);
    assertThat(text.code()).as(text.err()).isZero();
    assertThat(text.out()).contains("Analyzer: disabled on " + url).doesNotContain("does not lead");
  }

  // ---- the world ----

  private GatewayApiTrafficRouter router;

  /** plugin-server with the analyzer as Main wires it; answers its HTTP port. */
  private int startPluginServer() {
    return startPluginServer(true);
  }

  private int startPluginServer(boolean withPrometheus) {
    ServerConfig config =
        ServerConfig.parse(
            new String[] {
              "--grpc-port=0",
              "--http-port=0",
              "--bind-address=127.0.0.1",
              "--auth-mode=none",
              "--accepted-plugin-names=" + plugin,
              "--kubeconfig=" + apiServer.kubeconfig(),
              "--prometheus-url=" + (withPrometheus ? prometheus.url() : ""),
              "--analysis-interval=500ms",
              "--leader-election=true",
              "--leader-election-namespace=" + ns
            },
            Map.of());
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    KubernetesRouteClient routes =
        new KubernetesRouteClient(
            admin, KubernetesRouteClient.Settings.defaults(), ApiCallRecorder.none());
    router = new GatewayApiTrafficRouter(routes, RoutingMetrics.noop(), RouterSettings.defaults());
    PluginServer server = new PluginServer(config, router, registry);
    AnalyzerWiring analyzer =
        AnalyzerWiring.create(
            config, admin, router, registry, server, Map.of("POD_NAME", "weighbridge-it-0"));
    toClose.add(routes);
    toClose.add(router);
    toClose.add(server);
    toClose.add(analyzer);
    server.start();
    analyzer.start();
    return server.httpPort();
  }

  /** The HTTPRoute, Services and Rollout; its status as Argo writes it in step 0 (weight 5). */
  private Rollout canaryStepAt5() throws IOException {
    service("web-stable");
    service("web-canary");
    create(
        HTTP_ROUTES,
        """
        {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
         "metadata":{"name":"web"},
         "spec":{"parentRefs":[{"name":"traefik-gateway"}],
          "rules":[{"backendRefs":[{"name":"web-stable","port":80},
                                   {"name":"web-canary","port":80}]}]}}
        """);
    JsonNode created =
        create(
            ROLLOUTS,
            """
            {"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"web"},
             "spec":{"replicas":1,
              "selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},
                          "spec":{"containers":[{"name":"web","image":"example/web:1"}]}},
              "strategy":{"canary":{
                "canaryService":"web-canary","stableService":"web-stable",
                "trafficRouting":{"plugins":{"%s":{"httpRoute":"web"}}},
                "steps":[{"setWeight":5},{"pause":{}}]}}}}
            """
                .formatted(plugin));
    JsonNode withStatus =
        toJson(
            admin
                .genericKubernetesResources(ROLLOUTS)
                .inNamespace(ns)
                .withName("web")
                .subresource("status")
                .patch(
                    PatchContext.of(PatchType.JSON_MERGE),
                    """
                    {"status":{"phase":"Paused","currentPodHash":"c0ffee","stableRS":"beef00",
                      "currentStepIndex":0,
                      "canary":{"weights":{
                        "canary":{"weight":5,"serviceName":"web-canary","podTemplateHash":"c0ffee"},
                        "stable":{"weight":95,"serviceName":"web-stable","podTemplateHash":"beef00"}}}}}
                    """));
    return new Rollout(
        ns,
        "web",
        created.at("/metadata/uid").asText(),
        created.at("/metadata/generation").asLong(),
        withStatus.at("/metadata/resourceVersion").asText(),
        withStatus);
  }

  private Optional<JsonNode> entry(String url) throws Exception {
    for (JsonNode a : JSON.readTree(get(url + AnalysesJson.PATH)).path("analyses")) {
      if (a.path("namespace").asText().equals(ns) && a.path("rollout").asText().equals("web")) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }

  private String get(String uri) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(uri)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(uri).isEqualTo(200);
    return r.body();
  }

  private CliRun cli(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--kubeconfig");
    all.add(apiServer.kubeconfig().toString());
    return CliRun.of(http, all.toArray(String[]::new));
  }

  private void service(String name) {
    admin
        .services()
        .inNamespace(ns)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .addNewPort()
                .withPort(80)
                .endPort()
                .endSpec()
                .build())
        .create();
  }

  private JsonNode create(ResourceDefinitionContext context, String json) throws IOException {
    GenericKubernetesResource resource =
        admin.getKubernetesSerialization().unmarshal(json, GenericKubernetesResource.class);
    return toJson(
        admin.genericKubernetesResources(context).inNamespace(ns).resource(resource).create());
  }

  private JsonNode toJson(GenericKubernetesResource resource) throws IOException {
    return JSON.readTree(admin.getKubernetesSerialization().asJson(resource));
  }

  private static ResourceDefinitionContext context(
      String group, String version, String kind, String plural) {
    return new ResourceDefinitionContext.Builder()
        .withGroup(group)
        .withVersion(version)
        .withKind(kind)
        .withPlural(plural)
        .withNamespaced(true)
        .build();
  }
}
