package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteClient;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.domain.routing.RouterSettings;
import io.weighbridge.domain.routing.RoutingMetrics;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code plan} and {@code status} against a real kube-apiserver with the Gateway API and Argo
 * Rollouts CRDs: the CLI runs in-process exactly as {@code java -jar ... plan|status} does, with
 * the test server's kubeconfig.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class CliIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PLUGIN = "weighbridge/gateway-api";
  private static final ResourceDefinitionContext HTTP_ROUTES =
      context("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes");
  private static final ResourceDefinitionContext ROLLOUTS =
      context("argoproj.io", "v1alpha1", "Rollout", "rollouts");

  private KubernetesClient admin;
  private KubeApiServer server;
  private String ns;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void setUp(KubernetesClient client, KubeApiServer apiServer, TestNamespace namespace)
      throws IOException {
    admin = client;
    server = apiServer;
    ns = namespace.name();
    service("web-stable");
    service("web-canary");
    service("other");
    create(
        HTTP_ROUTES,
        """
        {"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
         "metadata":{"name":"web"},
         "spec":{"parentRefs":[{"name":"traefik-gateway"}],
          "rules":[
           {"matches":[{"path":{"type":"PathPrefix","value":"/"}}],
            "backendRefs":[{"name":"web-stable","port":80},{"name":"web-canary","port":80}]},
           {"matches":[{"path":{"type":"PathPrefix","value":"/other"}}],
            "backendRefs":[{"name":"other","port":80}]}]}}
        """);
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
            "trafficRouting":{
              "managedRoutes":[{"name":"canary-header"},{"name":"mirror"}],
              "plugins":{"weighbridge/gateway-api":
                {"httpRoutes":[{"name":"web","useHeaderRoutes":true}]}}},
            "steps":[{"setWeight":10},
                     {"setHeaderRoute":{"name":"canary-header",
                       "match":[{"headerName":"X-Canary","headerValue":{"exact":"yes"}}]}},
                     {"setWeight":30},
                     {"setMirrorRoute":{"name":"mirror","percentage":10,
                       "match":[{"path":{"prefix":"/"},"method":{"exact":"GET"}}]}},
                     {"pause":{}}]}}}}
        """);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  // ---- plan ----

  @Test
  @DisplayName(
      "When plan runs, then it writes nothing, and its patches and result are exactly what a real"
          + " SetHeaderRoute + SetMirrorRoute + SetWeight then writes")
  void planEqualsRealWriteAndWritesNothing() throws Exception {
    JsonNode routeBefore = route("web");

    CliRun run =
        cli(
            "plan",
            "web",
            "--weight",
            "30",
            "--header-route",
            "canary-header",
            "--mirror-route",
            "mirror",
            "-n",
            ns,
            "-o",
            "json");

    assertThat(run.code()).as(run.err()).isZero();
    JsonNode routeAfterPlan = route("web");
    assertThat(routeAfterPlan.at("/metadata/resourceVersion"))
        .isEqualTo(routeBefore.at("/metadata/resourceVersion"));
    assertThat(routeAfterPlan).isEqualTo(routeBefore);
    JsonNode plan = JSON.readTree(run.out());
    assertThat(plan.path("patches")).hasSize(3);
    assertThat(plan.at("/patches/0/call").asText()).isEqualTo("SetHeaderRoute \"canary-header\"");
    assertThat(plan.at("/patches/1/call").asText()).isEqualTo("SetMirrorRoute \"mirror\"");
    assertThat(plan.at("/patches/2/call").asText()).isEqualTo("SetWeight 30");

    // The real engine, on the real adapter, with a spy that records what it sends.
    Spy spy = new Spy(realRoutes());
    try (GatewayApiTrafficRouter engine =
        new GatewayApiTrafficRouter(spy, RoutingMetrics.noop(), RouterSettings.defaults())) {
      ArgoRollout argo = new RolloutReader(admin, List.of(PLUGIN)).get(ns, "web");
      Caller caller = new Caller(PLUGIN, "it");
      engine.setHeaderRoute(caller, argo.rollout(), argo.headerRouteStep("canary-header"));
      engine.setMirrorRoute(caller, argo.rollout(), argo.mirrorRouteStep("mirror"));
      engine.setWeight(caller, argo.rollout(), 30, List.of());
    }

    assertThat(spy.sent).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(plan.at("/patches/" + i + "/ops"))
          .as("patch %d", i)
          .isEqualTo(JSON.valueToTree(spy.sent.get(i)));
    }
    JsonNode written = route("web");
    List<String> plannedLines = new ArrayList<>();
    plan.at("/routes/0/diff")
        .forEach(
            l -> {
              if (!l.asText().startsWith("- ")) {
                plannedLines.add(l.asText().substring(2));
              }
            });
    assertThat(RouteText.lines(written)).isEqualTo(plannedLines);
    assertThat(plannedLines)
        .contains(
            "  backendRef web-stable:80 weight 70",
            "  backendRef web-canary:80 weight 30",
            "  backendRef other:80 weight 1",
            "  mirror to web-canary:80 10%");
  }

  @Test
  @DisplayName(
      "When plan prints text, then it shows a unified diff of the backendRef weights and the JSON"
          + " patch, and a second plan after the real write shows no change")
  void planTextView() throws Exception {
    CliRun run = cli("plan", "web", "--weight", "40", "-n", ns);

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("Dry run on Rollout " + ns + "/web (plugin weighbridge/gateway-api)")
        .contains("Nothing was written.")
        .contains("--- HTTPRoute " + ns + "/web (live, resourceVersion")
        .contains("+++ HTTPRoute " + ns + "/web (planned)")
        .contains("-   backendRef web-stable:80 weight 1")
        .contains("+   backendRef web-stable:80 weight 60")
        .contains("+   backendRef web-canary:80 weight 40")
        .contains("+ label rollouts.argoproj.io/gatewayapi-canary=in-progress")
        .contains("# SetWeight 40: HTTPRoute " + ns + "/web")
        .contains("\"path\" : \"/spec/rules/0/backendRefs/1/weight\"");

    try (GatewayApiTrafficRouter engine =
        new GatewayApiTrafficRouter(
            realRoutes(), RoutingMetrics.noop(), RouterSettings.defaults())) {
      ArgoRollout argo = new RolloutReader(admin, List.of(PLUGIN)).get(ns, "web");
      engine.setWeight(new Caller(PLUGIN, "it"), argo.rollout(), 40, List.of());
    }
    CliRun again = cli("plan", "web", "--weight", "40", "-n", ns);
    assertThat(again.code()).as(again.err()).isZero();
    assertThat(again.out())
        .contains("HTTPRoute " + ns + "/web: no change")
        .contains("No patch: every route already carries these weights.");
  }

  @Test
  @DisplayName(
      "When plan names a missing Rollout or the engine refuses, then it exits 1 with the message"
          + " Argo would show")
  void planFailures() throws Exception {
    CliRun missing = cli("plan", "nope", "--weight", "10", "-n", ns);
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).contains("Rollout " + ns + "/nope does not exist");

    CliRun tooHigh = cli("plan", "web", "--weight", "101", "-n", ns);
    assertThat(tooHigh.code()).isEqualTo(1);
    assertThat(tooHigh.err()).contains("weighbridge plan: ").contains("101");

    CliRun badHeader = cli("plan", "web", "--weight", "10", "--header-route", "x", "-n", ns);
    assertThat(badHeader.code()).isEqualTo(1);
    assertThat(badHeader.err()).contains("its setHeaderRoute steps are canary-header");
  }

  // ---- status ----

  @Test
  @DisplayName(
      "When a canary runs at 30 with a header route, then status shows its step, the live 70/30"
          + " weights, the managed rule, the label, no drift, and the analyzer's verdict")
  void statusOfARunningCanary() throws Exception {
    runRealCanaryAt30();
    HttpServer analyzer =
        analyzer(
            """
            {"leader":true,"identity":"weighbridge-0","analyses":[
              {"namespace":"%s","rollout":"web","phase":"ANALYZING","canaryWeight":30,
               "since":"2026-11-28T09:00:00Z",
               "verdict":{"outcome":"PASSED","reason":"canary within bounds",
                 "checks":[{"name":"error-rate","outcome":"PASSED",
                            "canary":{"value":0.001,"samples":120},
                            "stable":{"value":0.002,"samples":1080},
                            "detail":"no significant difference"}]}}]}
            """
                .formatted(ns));
    String url = "http://127.0.0.1:" + analyzer.getAddress().getPort();

    CliRun json = cli("status", "-n", ns, "--server-url", url, "-o", "json");

    assertThat(json.code()).as(json.err()).isZero();
    JsonNode report = JSON.readTree(json.out());
    assertThat(report.at("/analyzer/state").asText()).isEqualTo("ok");
    JsonNode r = report.at("/rollouts/0");
    assertThat(r.path("name").asText()).isEqualTo("web");
    assertThat(r.path("step").asInt()).isEqualTo(2);
    assertThat(r.path("stepWeight").asInt()).isEqualTo(30);
    assertThat(r.path("weight").asInt()).isEqualTo(30);
    JsonNode route = r.at("/routes/0");
    assertThat(route.path("kind").asText()).isEqualTo("HTTPRoute");
    assertThat(route.path("drift").asBoolean()).isFalse();
    assertThat(route.path("inProgressLabel").asText())
        .isEqualTo("rollouts.argoproj.io/gatewayapi-canary=in-progress");
    JsonNode main = route.at("/rules/0");
    assertThat(main.path("stable").asInt()).isEqualTo(70);
    assertThat(main.path("canary").asInt()).isEqualTo(30);
    assertThat(route.at("/managedRules/0/managedRoute").asText()).isEqualTo("canary-header");
    assertThat(route.at("/managedRules/0/type").asText()).isEqualTo("header");
    JsonNode headerRule = route.at("/rules/1");
    assertThat(headerRule.path("canary").asInt()).as("the only backend").isEqualTo(1);
    assertThat(headerRule.path("managedRoute").asText()).isEqualTo("canary-header");
    assertThat(r.at("/analysis/verdict/outcome").asText()).isEqualTo("PASSED");

    CliRun yaml = cli("status", "-n", ns, "--server-url", url, "-o", "yaml");
    assertThat(yaml.code()).as(yaml.err()).isZero();
    assertThat(yaml.out()).startsWith("namespace: " + ns + "\n");
    assertThat(new ObjectMapper(new YAMLFactory()).readTree(yaml.out()))
        .as("-o yaml is the -o json document")
        .isEqualTo(report);

    CliRun text = cli("status", "-n", ns, "--server-url", url);
    assertThat(text.code()).as(text.err()).isZero();
    assertThat(text.out())
        .contains("Rollout " + ns + "/web  (plugin weighbridge/gateway-api)")
        .contains("step 2/5 (setWeight 30), canary weight 30/100")
        .containsPattern("HTTPRoute " + ns + "/web\\s+0\\s+70\\s+30\\s+no")
        .contains("managed rules: header \"canary-header\"")
        .contains("analysis: ANALYZING at canary weight 30 since 2026-11-28T09:00:00Z")
        .contains("verdict PASSED: canary within bounds")
        .containsPattern(
            "error-rate\\s+PASSED\\s+value=0.001000 samples=120\\s+value=0.002000 samples=1080")
        .contains("Analyzer verdicts from " + url + " (replica weighbridge-0)");
  }

  @Test
  @DisplayName(
      "When someone else changes the weights, then status reports drift with what would be"
          + " restored; an unreachable analyzer is reported, not fatal")
  void statusShowsDriftAndUnreachableAnalyzer() throws Exception {
    runRealCanaryAt30();
    admin
        .genericKubernetesResources(HTTP_ROUTES)
        .inNamespace(ns)
        .withName("web")
        .patch(
            PatchContext.of(PatchType.JSON),
            "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":50}]");
    HttpServer gone = analyzer("{}");
    String url = "http://127.0.0.1:" + gone.getAddress().getPort();
    gone.stop(0);

    CliRun run = cli("status", "web", "-n", ns, "--server-url", url);

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .containsPattern("HTTPRoute " + ns + "/web\\s+0\\s+70\\s+50\\s+YES")
        .contains("drift on HTTPRoute " + ns + "/web")
        .contains("-   backendRef web-canary:80 weight 50")
        .contains("+   backendRef web-canary:80 weight 30")
        .contains("Analyzer verdicts: unavailable: cannot reach " + url + "/api/v1/analyses");
    assertThat(route("web").at("/spec/rules/0/backendRefs/1/weight").asInt())
        .as("status writes nothing")
        .isEqualTo(50);
  }

  @Test
  @DisplayName(
      "When no Rollout uses Weighbridge, then status says so and that the analyzer was not asked")
  void statusWithNothing() {
    admin.genericKubernetesResources(ROLLOUTS).inNamespace(ns).withName("web").delete();

    CliRun run = cli("status", "-n", ns);

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("No Rollout in namespace " + ns + " routes traffic with Weighbridge.")
        .contains("Analyzer verdicts: not queried (pass --server-url");
  }

  // ---- helpers ----

  /** What Argo would have done up to step 2: header route, weight 30, and the Rollout status. */
  private void runRealCanaryAt30() {
    try (GatewayApiTrafficRouter engine =
        new GatewayApiTrafficRouter(
            realRoutes(), RoutingMetrics.noop(), RouterSettings.defaults())) {
      ArgoRollout argo = new RolloutReader(admin, List.of(PLUGIN)).get(ns, "web");
      Caller caller = new Caller(PLUGIN, "it");
      engine.setHeaderRoute(caller, argo.rollout(), argo.headerRouteStep("canary-header"));
      engine.setWeight(caller, argo.rollout(), 30, List.of());
    }
    admin
        .genericKubernetesResources(ROLLOUTS)
        .inNamespace(ns)
        .withName("web")
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            """
            {"status":{"phase":"Paused","currentStepIndex":2,
              "canary":{"weights":{"canary":{"weight":30,"serviceName":"web-canary",
                                             "podTemplateHash":"c1"},
                                   "stable":{"weight":70,"serviceName":"web-stable",
                                             "podTemplateHash":"s1"},
                                   "verified":true}}}}
            """);
  }

  private KubernetesRouteClient realRoutes() {
    KubernetesRouteClient routes =
        new KubernetesRouteClient(
            admin, KubernetesRouteClient.Settings.defaults(), ApiCallRecorder.none());
    toClose.add(routes);
    return routes;
  }

  private HttpServer analyzer(String body) throws IOException {
    HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext(
        "/api/v1/analyses",
        exchange -> {
          byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, bytes.length);
          exchange.getResponseBody().write(bytes);
          exchange.close();
        });
    http.start();
    toClose.add(() -> http.stop(0));
    return http;
  }

  private CliRun cli(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--kubeconfig");
    all.add(server.kubeconfig().toString());
    return CliRun.of(all.toArray(String[]::new));
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

  private void create(ResourceDefinitionContext context, String json) {
    GenericKubernetesResource resource =
        admin.getKubernetesSerialization().unmarshal(json, GenericKubernetesResource.class);
    admin.genericKubernetesResources(context).inNamespace(ns).resource(resource).create();
  }

  private JsonNode route(String name) throws IOException {
    return JSON.readTree(
        admin
            .getKubernetesSerialization()
            .asJson(
                admin
                    .genericKubernetesResources(HTTP_ROUTES)
                    .inNamespace(ns)
                    .withName(name)
                    .get()));
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

  /** The real adapter, recording the operations each successful patch sent. */
  private static final class Spy implements RouteClient {
    final RouteClient real;
    final List<List<JsonNode>> sent = new ArrayList<>();

    Spy(RouteClient real) {
      this.real = real;
    }

    @Override
    public Optional<String> apiVersion(RouteKind kind) {
      return real.apiVersion(kind);
    }

    @Override
    public boolean servesField(RouteKind kind, String fieldPath) {
      return real.servesField(kind, fieldPath);
    }

    @Override
    public Optional<ObservedRoute> get(RouteId id) {
      return real.get(id);
    }

    @Override
    public List<ObservedRoute> select(
        RouteKind kind, String namespace, Map<String, String> matchLabels) {
      return real.select(kind, namespace, matchLabels);
    }

    @Override
    public List<ObservedRoute> listAllNamespaces(RouteKind kind) {
      return real.listAllNamespaces(kind);
    }

    @Override
    public ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner) {
      List<List<JsonNode>> attempts = new ArrayList<>();
      ObservedRoute result =
          real.patch(
              id,
              fresh -> {
                List<JsonNode> ops = planner.apply(fresh);
                attempts.add(ops);
                return ops;
              });
      if (!attempts.getLast().isEmpty()) {
        sent.add(attempts.getLast());
      }
      return result;
    }

    @Override
    public Optional<JsonNode> service(String namespace, String name) {
      return real.service(namespace, name);
    }

    @Override
    public AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener) {
      return real.watch(id, listener);
    }
  }
}
