package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.EngineSupport.rules;
import static io.weighbridge.domain.routing.EngineSupport.weights;
import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.INCUMBENT_PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.metrics.MicrometerRoutingMetrics;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The routing engine with the Kubernetes adapter on a real kube-apiserver with Gateway API v1.5.1
 * experimental (CORS, rule names, mirror percent, TCPRoute/TLSRoute): issue 3 items 2-8, the
 * incumbent's regressions, and manifests in the shapes incumbent users write as fixtures.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class GatewayApiEngineIT {

  private static final String V1 = GROUP + "/v1";
  private static final String V1ALPHA2 = GROUP + "/v1alpha2";

  private EngineSupport e;
  private String ns;

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    ns = namespace.name();
    e = new EngineSupport(client, ns);
  }

  @AfterEach
  void tearDown() throws Exception {
    e.close();
  }

  private Rollout rollout(String pluginConfig) {
    return Fixtures.rollout().namespace(ns).plugin(pluginConfig).build();
  }

  // ---- configuration and migration (item 2) ----

  @Test
  @DisplayName(
      "When the traefik example is applied unchanged (incumbent key), then SetWeight moves its"
          + " weights, and with our key too")
  void traefikExampleMigratesWithNoKeyChanged() {
    e.create(EngineSupport.example("traefik/httproute.yml", "HTTPRoute"));

    for (String key : List.of(INCUMBENT_PLUGIN, PLUGIN)) {
      Rollout rollout = e.exampleRollout("traefik/rollout.yml", key);
      e.router.setWeight(new io.weighbridge.domain.Caller(key, "it"), rollout, 30, List.of());
      assertThat(weights(e.http("argo-rollouts-http-route"), 0))
          .as(key)
          .containsExactly(entry(STABLE, 70), entry(CANARY, 30));
      e.router.setWeight(new io.weighbridge.domain.Caller(key, "it"), rollout, 0, List.of());
    }
    assertThat(weights(e.http("argo-rollouts-http-route"), 0))
        .containsExactly(entry(STABLE, 100), entry(CANARY, 0));
  }

  @Test
  @DisplayName(
      "When the Linkerd example (v1beta1 manifest, Service parent) is used, then SetWeight and"
          + " the in-progress label work")
  void linkerdExampleGammaRoute() {
    e.create(EngineSupport.example("linkerd/httproute.yaml", "HTTPRoute"));
    Rollout rollout = e.exampleRollout("linkerd/rollout.yaml", INCUMBENT_PLUGIN);
    var incumbent = new io.weighbridge.domain.Caller(INCUMBENT_PLUGIN, "it");

    e.router.setWeight(incumbent, rollout, 40, List.of());

    JsonNode route = e.http("argo-rollouts-http-route");
    assertThat(route.at("/spec/parentRefs/0/kind").asText()).isEqualTo("Service");
    assertThat(weights(route, 0)).containsExactly(entry(STABLE, 60), entry(CANARY, 40));
    assertThat(route.at("/metadata/labels").get("rollouts.argoproj.io/gatewayapi-canary").asText())
        .isEqualTo("in-progress");

    e.router.setWeight(incumbent, rollout, 0, List.of());
    assertThat(
            e.http("argo-rollouts-http-route")
                .at("/metadata/labels")
                .has("rollouts.argoproj.io/gatewayapi-canary"))
        .isFalse();
  }

  // ---- SetWeight on every kind, parents, namespaces, selectors, maxTrafficWeight (items 3, 4)
  // ----

  @Test
  @DisplayName(
      "When one Rollout names an HTTP, GRPC (Service parent), TCP and TLS route, then all four"
          + " carry the weights")
  void everyRouteKind() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    ObjectNode grpc = Fixtures.grpcRoute(); // the Linkerd-era v1alpha2 shape, created as v1
    grpc.put("apiVersion", V1);
    e.create(grpc);
    e.create(Fixtures.tcpRoute());
    e.create(Fixtures.tlsRoute());
    Rollout rollout =
        rollout(
            """
            {'httpRoute': 'argo-rollouts-http-route', 'grpcRoute': 'greeter',
             'tcpRoute': 'db', 'tlsRoutes': [{'name': 'tls'}]}
            """);

    e.router.setWeight(CALLER, rollout, 25, List.of());

    assertThat(weights(e.http("argo-rollouts-http-route"), 0))
        .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
    assertThat(weights(e.get(V1, "GRPCRoute", ns, "greeter"), 0))
        .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
    assertThat(weights(e.get(V1ALPHA2, "TCPRoute", ns, "db"), 0))
        .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
    assertThat(weights(e.get(V1, "TLSRoute", ns, "tls"), 0))
        .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
  }

  @Test
  @DisplayName(
      "When an experiment runs on HTTP, GRPC, TCP and TLS routes, then each gets the experiment"
          + " backend on the port matching its stable backend, and loses it afterwards")
  void experimentsOnEveryRouteKind() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    ObjectNode grpc = Fixtures.grpcRoute();
    grpc.put("apiVersion", V1);
    e.create(grpc);
    e.create(Fixtures.tcpRoute());
    e.create(Fixtures.tlsRoute());
    e.admin
        .services()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.ServiceBuilder()
                .withNewMetadata()
                .withName("exp")
                .endMetadata()
                .withNewSpec()
                .addNewPort()
                .withName("http")
                .withPort(80)
                .endPort()
                .addNewPort()
                .withName("grpc")
                .withPort(9000)
                .endPort()
                .addNewPort()
                .withName("pg")
                .withPort(5432)
                .endPort()
                .addNewPort()
                .withName("tls")
                .withPort(443)
                .endPort()
                .endSpec()
                .build())
        .create();
    Rollout rollout =
        rollout(
            """
            {'httpRoute': 'argo-rollouts-http-route', 'grpcRoute': 'greeter',
             'tcpRoute': 'db', 'tlsRoute': 'tls'}
            """);
    List<WeightDestination> experiment = List.of(new WeightDestination("exp", "h", 5));

    e.router.setWeight(CALLER, rollout, 10, experiment);

    Map<String, JsonNode> stored =
        Map.of(
            "80", e.http("argo-rollouts-http-route"),
            "9000", e.get(V1, "GRPCRoute", ns, "greeter"),
            "5432", e.get(V1ALPHA2, "TCPRoute", ns, "db"),
            "443", e.get(V1, "TLSRoute", ns, "tls"));
    stored.forEach(
        (port, route) -> {
          assertThat(weights(route, 0))
              .as(route.path("kind").asText())
              .containsExactly(entry(STABLE, 85), entry(CANARY, 10), entry("exp", 5));
          assertThat(route.at("/spec/rules/0/backendRefs/2/port").asText())
              .as(route.path("kind").asText())
              .isEqualTo(port);
        });

    e.router.setWeight(CALLER, rollout, 10, List.of());

    assertThat(weights(e.get(V1ALPHA2, "TCPRoute", ns, "db"), 0))
        .containsExactly(entry(STABLE, 90), entry(CANARY, 10));
    assertThat(weights(e.get(V1, "GRPCRoute", ns, "greeter"), 0))
        .containsExactly(entry(STABLE, 90), entry(CANARY, 10));
  }

  @Test
  @DisplayName(
      "When header and mirror routes were added to a shared route, then RemoveManagedRoutes"
          + " removes exactly them: the spec is as the user wrote it")
  void removeManagedRoutesRemovesAllWeAddedAndNothingElse() {
    ObjectNode shop = Fixtures.richHttpRoute();
    ((ObjectNode) shop.at("/spec/rules/0")).remove("futureField");
    JsonNode before = e.create(shop);
    Rollout rollout =
        Fixtures.rollout()
            .namespace(ns)
            .managedRoutes("h1", "h2", "m")
            .plugin("{'httpRoutes': [{'name': 'shop', 'useHeaderRoutes': true}]}")
            .build();

    e.router.setHeaderRoute(CALLER, rollout, header("h1", "x-a", new StringMatch("1", "", "")));
    e.router.setHeaderRoute(CALLER, rollout, header("h2", "x-a", new StringMatch("2", "", "")));
    e.router.setMirrorRoute(
        CALLER,
        rollout,
        new MirrorRoute(
            "m", List.of(new RequestMatch(null, new StringMatch("", "/api", ""), Map.of())), 50));
    assertThat(rules(e.http("shop")).size()).isGreaterThan(rules(before).size());

    e.router.removeManagedRoutes(CALLER, rollout);

    JsonNode after = e.http("shop");
    assertThat(after.path("spec")).isEqualTo(before.path("spec"));
    assertThat(after.at("/metadata/annotations").has("weighbridge.io/managed")).isFalse();
  }

  @Test
  @DisplayName(
      "When the route lives in another namespace and references the Rollout's Services across"
          + " namespaces (ReferenceGrant), then only those backends change")
  void crossNamespaceRoute() {
    String routesNs = e.extraNamespace("routes");
    ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");
    for (JsonNode ref : route.at("/spec/rules/0/backendRefs")) {
      ((ObjectNode) ref).put("namespace", ns);
    }
    // A Service of the same name in the route's own namespace must not be mistaken for ours.
    ((com.fasterxml.jackson.databind.node.ArrayNode) route.at("/spec/rules/0/backendRefs"))
        .addObject()
        .put("name", CANARY)
        .put("port", 80)
        .put("weight", 5);
    e.create(route, routesNs);
    e.create(
        Fixtures.json(
            """
            {'apiVersion': 'gateway.networking.k8s.io/v1beta1', 'kind': 'ReferenceGrant',
             'metadata': {'name': 'routes-to-app'},
             'spec': {'from': [{'group': 'gateway.networking.k8s.io', 'kind': 'HTTPRoute',
                                'namespace': '%s'}],
                      'to': [{'group': '', 'kind': 'Service'}]}}
            """
                .formatted(routesNs)));
    Rollout rollout =
        rollout(
            "{'httpRoutes': [{'name': 'argo-rollouts-http-route', 'namespace': '%s'}]}"
                .formatted(routesNs));

    e.router.setWeight(CALLER, rollout, 10, List.of());

    JsonNode stored = e.get(V1, "HTTPRoute", routesNs, "argo-rollouts-http-route");
    assertThat(stored.at("/spec/rules/0/backendRefs/0/weight").asInt()).isEqualTo(90);
    assertThat(stored.at("/spec/rules/0/backendRefs/1/weight").asInt()).isEqualTo(10);
    assertThat(stored.at("/spec/rules/0/backendRefs/2/namespace").isMissingNode()).isTrue();
    assertThat(stored.at("/spec/rules/0/backendRefs/2/weight").asInt()).isEqualTo(5);
  }

  @Test
  @DisplayName("When routes are selected by labels, then exactly the matching routes change")
  void labelSelector() {
    for (String name : List.of("a", "b", "c")) {
      ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");
      ((ObjectNode) route.path("metadata")).put("name", name);
      ((ObjectNode) route.path("metadata"))
          .putObject("labels")
          .put("app", name.equals("c") ? "other" : "shop")
          .put("tier", name);
      e.create(route);
    }
    Rollout rollout =
        rollout(
            """
            {'httpRouteSelector': {'matchLabels': {'app': 'shop'},
              'matchExpressions': [{'key': 'tier', 'operator': 'In', 'values': ['a', 'b']}]}}
            """);

    e.router.setWeight(CALLER, rollout, 50, List.of());

    assertThat(weights(e.http("a"), 0)).containsExactly(entry(STABLE, 50), entry(CANARY, 50));
    assertThat(weights(e.http("b"), 0)).containsExactly(entry(STABLE, 50), entry(CANARY, 50));
    assertThat(weights(e.http("c"), 0)).containsExactly(entry(STABLE, 1), entry(CANARY, 1));
  }

  @Test
  @DisplayName("When maxTrafficWeight is 1000, then 0.1% steps are written")
  void maxTrafficWeight1000() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout =
        Fixtures.rollout()
            .namespace(ns)
            .maxTrafficWeight(1000)
            .plugin("{'httpRoute': 'argo-rollouts-http-route'}")
            .build();

    e.router.setWeight(CALLER, rollout, 1, List.of());

    assertThat(weights(e.http("argo-rollouts-http-route"), 0))
        .containsExactly(entry(STABLE, 999), entry(CANARY, 1));
  }

  @Test
  @DisplayName(
      "When an experiment adds destinations, then they become weighted backends (port of the"
          + " experiment Service) and are removed again")
  void experiments() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    e.service(ns, "exp-a", 80);
    Rollout rollout = rollout("{'httpRoute': 'argo-rollouts-http-route'}");

    e.router.setWeight(CALLER, rollout, 20, List.of(new WeightDestination("exp-a", "h1", 10)));

    JsonNode route = e.http("argo-rollouts-http-route");
    assertThat(weights(route, 0))
        .containsExactly(entry(STABLE, 70), entry(CANARY, 20), entry("exp-a", 10));
    assertThat(route.at("/spec/rules/0/backendRefs/2/port").asInt()).isEqualTo(80);

    e.router.setWeight(CALLER, rollout, 20, List.of());

    assertThat(weights(e.http("argo-rollouts-http-route"), 0))
        .containsExactly(entry(STABLE, 80), entry(CANARY, 20));
  }

  // ---- the incumbent's regressions (item 9) ----

  @Test
  @DisplayName(
      "#203 #217 #156: When a route shares rules with others, then other backends, canary-only"
          + " rules and CORS filters are kept")
  void sharedRuleOtherBackendsCanaryOnlyRulesAndCorsKept() {
    ObjectNode shop = Fixtures.richHttpRoute();
    ((ObjectNode) shop.at("/spec/rules/0")).remove("futureField");
    JsonNode before = e.create(shop);
    Rollout rollout = rollout("{'httpRoute': 'shop'}");

    e.router.setWeight(CALLER, rollout, 30, List.of());
    JsonNode during = e.http("shop");
    e.router.setWeight(CALLER, rollout, 0, List.of());
    JsonNode after = e.http("shop");

    assertThat(weights(during, 0)).containsExactly(entry(STABLE, 70), entry(CANARY, 30));
    assertThat(during.at("/spec/rules/0/filters")).isEqualTo(before.at("/spec/rules/0/filters"));
    assertThat(during.at("/spec/rules/0/filters/0/cors/maxAge").asInt()).isEqualTo(5);
    assertThat(rules(during).get(1)).isEqualTo(rules(before).get(1));
    assertThat(rules(during).get(2)).isEqualTo(rules(before).get(2));
    assertThat(weights(during, 3))
        .containsExactly(entry(STABLE, 70), entry(CANARY, 30), entry("legacy", 50));
    assertThat(rules(after)).hasSize(4);
    assertThat(rules(after).get(1)).isEqualTo(rules(before).get(1));
    assertThat(rules(after).get(2)).isEqualTo(rules(before).get(2));
    assertThat(weights(after, 0)).containsExactly(entry(STABLE, 100), entry(CANARY, 0));
  }

  @Test
  @DisplayName(
      "#230: When SetWeight repeats an unchanged weight, then no API request is sent and it counts"
          + " as skipped")
  void noWriteWhenUnchanged() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = rollout("{'httpRoute': 'argo-rollouts-http-route'}");
    e.router.setWeight(CALLER, rollout, 30, List.of());
    String resourceVersion =
        e.http("argo-rollouts-http-route").at("/metadata/resourceVersion").asText();
    await()
        .until(
            () ->
                e.routes
                    .get(new RouteId(RouteKind.HTTP, ns, "argo-rollouts-http-route"))
                    .map(r -> r.resourceVersion().equals(resourceVersion))
                    .orElse(false));
    long reads = e.calls.reads();
    long writes = e.calls.writes();

    e.router.setWeight(CALLER, rollout, 30, List.of());

    assertThat(e.calls.reads()).isEqualTo(reads);
    assertThat(e.calls.writes()).isEqualTo(writes);
    assertThat(e.http("argo-rollouts-http-route").at("/metadata/resourceVersion").asText())
        .isEqualTo(resourceVersion);
    assertThat(
            e.counter(
                MicrometerRoutingMetrics.SKIPPED, "operation", "set_weight", "kind", "HTTPRoute"))
        .isEqualTo(1);
    assertThat(
            e.counter(
                MicrometerRoutingMetrics.WRITES, "operation", "set_weight", "kind", "HTTPRoute"))
        .isEqualTo(1);
  }

  // ---- header and mirror routes (item 5) ----

  private static HeaderRoute header(String name, String header, StringMatch value) {
    return new HeaderRoute(name, List.of(new HeaderMatch(header, value)));
  }

  @Test
  @DisplayName(
      "#158 #215: When two header routes on the same header exist, then SetWeight leaves them"
          + " alone, removal removes exactly one, RemoveManagedRoutes restores the route")
  void headerRoutes() {
    JsonNode before = e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout =
        Fixtures.rollout()
            .namespace(ns)
            .managedRoutes("exact", "prefix", "regex")
            .plugin(
                "{'httpRoutes': [{'name': 'argo-rollouts-http-route', 'useHeaderRoutes': true}]}")
            .build();

    e.router.setHeaderRoute(
        CALLER, rollout, header("exact", "x-canary", new StringMatch("yes", "", "")));
    e.router.setHeaderRoute(
        CALLER, rollout, header("prefix", "x-canary", new StringMatch("", "be", "")));
    e.router.setHeaderRoute(
        CALLER, rollout, header("regex", "x-user", new StringMatch("", "", "^qa-.*")));
    e.router.setWeight(CALLER, rollout, 40, List.of());

    JsonNode route = e.http("argo-rollouts-http-route");
    List<JsonNode> headerRules =
        rules(route).stream().filter(r -> r.at("/matches/0/headers").size() > 0).toList();
    assertThat(headerRules).hasSize(3);
    for (JsonNode rule : headerRules) {
      assertThat(rule.path("backendRefs")).hasSize(1);
      assertThat(rule.at("/backendRefs/0/name").asText()).isEqualTo(CANARY);
    }
    assertThat(headerRules)
        .extracting(r -> r.at("/matches/0/headers/0/type").asText())
        .containsExactlyInAnyOrder("Exact", "RegularExpression", "RegularExpression");
    assertThat(headerRules)
        .extracting(r -> r.at("/matches/0/headers/0/value").asText())
        .contains("yes", "^qa-.*");
    JsonNode split =
        rules(route).stream()
            .filter(r -> r.path("backendRefs").size() == 2)
            .findFirst()
            .orElseThrow();
    assertThat(weights(route, rules(route).indexOf(split)))
        .containsExactly(entry(STABLE, 60), entry(CANARY, 40));

    e.router.setHeaderRoute(CALLER, rollout, new HeaderRoute("exact", List.of()));

    JsonNode afterRemoval = e.http("argo-rollouts-http-route");
    assertThat(rules(afterRemoval)).hasSize(3);
    assertThat(afterRemoval.toString()).doesNotContain("\"yes\"").contains("^qa-.*");

    e.router.removeManagedRoutes(CALLER, rollout);
    e.router.setWeight(CALLER, rollout, 0, List.of());

    JsonNode restored = e.http("argo-rollouts-http-route");
    assertThat(restored.path("spec").path("rules")).hasSize(1);
    assertThat(restored.at("/spec/rules/0/matches")).isEqualTo(before.at("/spec/rules/0/matches"));
    assertThat(restored.at("/metadata/annotations").has("weighbridge.io/managed")).isFalse();
    assertThat(restored.at("/metadata/labels").has("rollouts.argoproj.io/gatewayapi-canary"))
        .isFalse();
  }

  @Test
  @DisplayName("When a configured route does not exist, then SetWeight names it and writes nothing")
  void missingRoute() {
    Rollout rollout = rollout("{'httpRoute': 'nope'}");

    assertThatThrownBy(() -> e.router.setWeight(CALLER, rollout, 10, List.of()))
        .isInstanceOf(io.weighbridge.domain.NotFoundException.class)
        .hasMessageContaining("nope");
    assertThat(e.calls.writes()).isZero();
  }

  @Test
  @DisplayName(
      "When a mirror route with a percentage is set, then a RequestMirror filter with percent is"
          + " written; removal leaves the route as it was")
  void mirrorRouteWithPercent() {
    JsonNode before = e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout =
        Fixtures.rollout()
            .namespace(ns)
            .managedRoutes("mirror")
            .plugin(
                "{'httpRoutes': [{'name': 'argo-rollouts-http-route', 'useHeaderRoutes': true}]}")
            .build();
    MirrorRoute mirror =
        new MirrorRoute(
            "mirror",
            List.of(new RequestMatch(null, new StringMatch("", "/api", ""), Map.of())),
            20);

    e.router.setMirrorRoute(CALLER, rollout, mirror);

    JsonNode route = e.http("argo-rollouts-http-route");
    JsonNode mirrorRule =
        rules(route).stream()
            .filter(r -> r.toString().contains("RequestMirror"))
            .findFirst()
            .orElseThrow();
    assertThat(mirrorRule.at("/filters/0/requestMirror/percent").asInt()).isEqualTo(20);
    assertThat(mirrorRule.at("/filters/0/requestMirror/backendRef/name").asText())
        .isEqualTo(CANARY);

    e.router.setMirrorRoute(CALLER, rollout, new MirrorRoute("mirror", List.of(), null));

    assertThat(e.http("argo-rollouts-http-route").path("spec")).isEqualTo(before.path("spec"));
  }

  // ---- VerifyWeight (item 6) ----

  @Test
  @DisplayName(
      "When the Gateway has not accepted the written generation, then NotVerified; once it has,"
          + " Verified; with the status check off, Verified from the spec")
  void verifyWeightFollowsParentStatus() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = rollout("{'httpRoute': 'argo-rollouts-http-route'}");
    e.router.setWeight(CALLER, rollout, 30, List.of());
    long generation = e.http("argo-rollouts-http-route").at("/metadata/generation").asLong();

    assertThat(e.router.verifyWeight(CALLER, rollout, 30, List.of()).verification())
        .isEqualTo(Verification.NOT_VERIFIED);
    e.writeStatus(V1, "HTTPRoute", "argo-rollouts-http-route", true, generation - 1);
    await().atMost(5, TimeUnit.SECONDS).until(() -> statusGeneration() == generation - 1);
    assertThat(e.router.verifyWeight(CALLER, rollout, 30, List.of()).verification())
        .isEqualTo(Verification.NOT_VERIFIED);
    e.writeStatus(V1, "HTTPRoute", "argo-rollouts-http-route", false, generation);
    await().atMost(5, TimeUnit.SECONDS).until(() -> statusGeneration() == generation);
    assertThat(e.router.verifyWeight(CALLER, rollout, 30, List.of()).verification())
        .isEqualTo(Verification.NOT_VERIFIED);
    e.writeStatus(V1, "HTTPRoute", "argo-rollouts-http-route", true, generation);

    await()
        .atMost(5, TimeUnit.SECONDS)
        .until(
            () ->
                e.router.verifyWeight(CALLER, rollout, 30, List.of()).verification()
                    == Verification.VERIFIED);
    assertThat(e.counter(MicrometerRoutingMetrics.VERIFY, "reason", "stale_generation"))
        .isPositive();
    assertThat(e.counter(MicrometerRoutingMetrics.VERIFY, "reason", "not_accepted")).isPositive();
    assertThat(e.router.verifyWeight(CALLER, rollout, 50, List.of()).verification())
        .isEqualTo(Verification.NOT_VERIFIED);

    // The user switches the status check off: a new generation of the Rollout.
    Rollout specOnly =
        Fixtures.rollout()
            .namespace(ns)
            .generation(2)
            .plugin("{'httpRoute': 'argo-rollouts-http-route', 'verifyWeight': 'spec'}")
            .build();
    e.router.setWeight(CALLER, specOnly, 35, List.of());
    var result = e.router.verifyWeight(CALLER, specOnly, 35, List.of());
    assertThat(result.verification()).as(result.reason()).isEqualTo(Verification.VERIFIED);
  }

  private long statusGeneration() {
    return e.routes
        .get(new RouteId(RouteKind.HTTP, ns, "argo-rollouts-http-route"))
        .map(r -> r.object().at("/status/parents/0/conditions/0/observedGeneration").asLong())
        .orElse(-1L);
  }

  // ---- GitOps label and drift (item 7) ----

  @Test
  @DisplayName(
      "When two Rollouts share a route, then the in-progress label stays until the last one is"
          + " done")
  void inProgressLabelIsReferenceCounted() {
    ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");
    ObjectNode second = (ObjectNode) route.at("/spec/rules/0").deepCopy();
    ((ObjectNode) second.at("/backendRefs/0")).put("name", "b-stable");
    ((ObjectNode) second.at("/backendRefs/1")).put("name", "b-canary");
    second
        .putArray("matches")
        .addObject()
        .putObject("path")
        .put("type", "PathPrefix")
        .put("value", "/b");
    ((com.fasterxml.jackson.databind.node.ArrayNode) route.at("/spec/rules")).add(second);
    e.create(route);
    String plugin = "{'httpRoute': 'argo-rollouts-http-route'}";
    Rollout a = Fixtures.rollout().namespace(ns).name("a").plugin(plugin).build();
    Rollout b =
        Fixtures.rollout()
            .namespace(ns)
            .name("b")
            .services("b-canary", "b-stable")
            .plugin(plugin)
            .build();
    String label = "rollouts.argoproj.io/gatewayapi-canary";

    e.router.setWeight(CALLER, a, 10, List.of());
    e.router.setWeight(CALLER, b, 20, List.of());
    assertThat(e.http("argo-rollouts-http-route").at("/metadata/labels").has(label)).isTrue();
    e.router.setWeight(CALLER, a, 0, List.of());
    JsonNode oneDone = e.http("argo-rollouts-http-route");
    e.router.setWeight(CALLER, b, 0, List.of());
    JsonNode bothDone = e.http("argo-rollouts-http-route");

    assertThat(oneDone.at("/metadata/labels").has(label)).isTrue();
    assertThat(weights(oneDone, 1)).containsExactly(entry("b-stable", 80), entry("b-canary", 20));
    assertThat(bothDone.at("/metadata/labels").has(label)).isFalse();
  }

  @Test
  @DisplayName(
      "When someone else changes a weight during a canary, then it is restored and counted")
  void driftIsRestored() {
    e.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = rollout("{'httpRoute': 'argo-rollouts-http-route'}");
    e.router.setWeight(CALLER, rollout, 30, List.of());

    e.patch(
        V1,
        "HTTPRoute",
        ns,
        "argo-rollouts-http-route",
        "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/0/weight\",\"value\":100},"
            + "{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":0}]");

    // A liveness bound, not a timed assertion: the 1 s target is measured by the bench.
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              assertThat(weights(e.http("argo-rollouts-http-route"), 0))
                  .containsExactly(entry(STABLE, 70), entry(CANARY, 30));
              // Counted once the restoring write has returned, a moment after it is visible.
              assertThat(e.counter(MicrometerRoutingMetrics.DRIFT, "kind", "HTTPRoute"))
                  .isEqualTo(1);
            });
    assertThat(
            e.counter(
                MicrometerRoutingMetrics.WRITES, "operation", "drift_restore", "kind", "HTTPRoute"))
        .isEqualTo(1);
  }

  // ---- concurrency and failures (items 3, 8) ----

  @Test
  @DisplayName(
      "When 10 Rollouts on their own routes and 4 on one shared route call at once, then every"
          + " call ends in time and no update is lost")
  void parallelAndSerialized() throws Exception {
    ObjectNode shared = Fixtures.exampleRoute("traefik/httproute.yml");
    ((ObjectNode) shared.path("metadata")).put("name", "shared");
    var sharedRules = (com.fasterxml.jackson.databind.node.ArrayNode) shared.at("/spec/rules");
    JsonNode template = sharedRules.remove(0);
    for (int i = 0; i < 4; i++) {
      ObjectNode rule = template.deepCopy();
      ((ObjectNode) rule.at("/backendRefs/0")).put("name", "s" + i + "-stable");
      ((ObjectNode) rule.at("/backendRefs/1")).put("name", "s" + i + "-canary");
      rule.putArray("matches")
          .addObject()
          .putObject("path")
          .put("type", "PathPrefix")
          .put("value", "/s" + i);
      sharedRules.add(rule);
    }
    e.create(shared);
    List<Rollout> rollouts = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");
      ((ObjectNode) route.path("metadata")).put("name", "r" + i);
      e.create(route);
      rollouts.add(
          Fixtures.rollout()
              .namespace(ns)
              .name("own" + i)
              .plugin("{'httpRoute': 'r" + i + "'}")
              .build());
    }
    for (int i = 0; i < 4; i++) {
      rollouts.add(
          Fixtures.rollout()
              .namespace(ns)
              .name("shared" + i)
              .services("s" + i + "-canary", "s" + i + "-stable")
              .plugin("{'httpRoute': 'shared'}")
              .build());
    }

    List<Future<?>> futures = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < rollouts.size(); i++) {
        Rollout r = rollouts.get(i);
        int weight = 10 + i;
        futures.add(pool.submit(() -> e.router.setWeight(CALLER, r, weight, List.of())));
      }
      for (Future<?> f : futures) {
        f.get(15, TimeUnit.SECONDS);
      }
    }

    for (int i = 0; i < 10; i++) {
      assertThat(weights(e.http("r" + i), 0))
          .containsExactly(entry(STABLE, 90 - i), entry(CANARY, 10 + i));
    }
    JsonNode sharedRoute = e.http("shared");
    for (int i = 0; i < 4; i++) {
      assertThat(weights(sharedRoute, i))
          .containsExactly(entry("s" + i + "-stable", 80 - i), entry("s" + i + "-canary", 20 + i));
    }
  }

  @Test
  @DisplayName(
      "When admission refuses one of two routes, then the refusal is reported verbatim and the"
          + " message names the updated and the failed route")
  void partialFailureAndVerbatimRejection() {
    ObjectNode ok = Fixtures.exampleRoute("traefik/httproute.yml");
    ((ObjectNode) ok.path("metadata")).put("name", "ok");
    e.create(ok);
    ObjectNode frozen = Fixtures.exampleRoute("traefik/httproute.yml");
    ((ObjectNode) frozen.path("metadata")).put("name", "frozen");
    ((ObjectNode) frozen.path("metadata")).putObject("labels").put("frozen", "true");
    e.create(frozen);
    String message = "routes labelled frozen=true are managed by the platform team";
    String policy = "freeze-" + ns;
    e.admin
        .resource(
            e.admin
                .getKubernetesSerialization()
                .unmarshal(
                    """
                    {"apiVersion":"admissionregistration.k8s.io/v1",
                     "kind":"ValidatingAdmissionPolicy","metadata":{"name":"%s"},
                     "spec":{"failurePolicy":"Fail",
                       "matchConstraints":{"resourceRules":[{"apiGroups":["gateway.networking.k8s.io"],
                         "apiVersions":["*"],"operations":["UPDATE"],"resources":["httproutes"]}]},
                       "validations":[{"expression":"false","message":"%s"}]}}
                    """
                        .formatted(policy, message),
                    io.fabric8.kubernetes.api.model.GenericKubernetesResource.class))
        .create();
    e.admin
        .resource(
            e.admin
                .getKubernetesSerialization()
                .unmarshal(
                    """
                    {"apiVersion":"admissionregistration.k8s.io/v1",
                     "kind":"ValidatingAdmissionPolicyBinding","metadata":{"name":"%s"},
                     "spec":{"policyName":"%s","validationActions":["Deny"],
                       "matchResources":{
                         "namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"%s"}},
                         "objectSelector":{"matchLabels":{"frozen":"true"}}}}}
                    """
                        .formatted(policy, policy, ns),
                    io.fabric8.kubernetes.api.model.GenericKubernetesResource.class))
        .create();
    try {
      // The policy takes effect asynchronously; wait until a plain update is refused.
      await()
          .atMost(30, TimeUnit.SECONDS)
          .until(
              () -> {
                try {
                  e.patch(
                      V1,
                      "HTTPRoute",
                      ns,
                      "frozen",
                      "[{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{}}]");
                  return false;
                } catch (io.fabric8.kubernetes.client.KubernetesClientException refused) {
                  return refused.getMessage().contains(message);
                }
              });
      Rollout rollout = rollout("{'httpRoutes': [{'name': 'ok'}, {'name': 'frozen'}]}");

      assertThatThrownBy(() -> e.router.setWeight(CALLER, rollout, 10, List.of()))
          .isInstanceOf(PartialFailureException.class)
          .hasMessageContaining(message)
          .hasMessageContaining("ok")
          .hasMessageContaining("frozen")
          .satisfies(
              thrown -> {
                PartialFailureException p = (PartialFailureException) thrown;
                assertThat(p.succeeded()).anyMatch(s -> s.contains("ok"));
                assertThat(p.failed()).anyMatch(s -> s.contains("frozen"));
              });
      assertThat(weights(e.http("ok"), 0)).containsExactly(entry(STABLE, 90), entry(CANARY, 10));
      assertThat(weights(e.http("frozen"), 0)).containsExactly(entry(STABLE, 1), entry(CANARY, 1));
    } finally {
      e.admin
          .genericKubernetesResources(
              "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding")
          .withName(policy)
          .delete();
      e.admin
          .genericKubernetesResources(
              "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy")
          .withName(policy)
          .delete();
    }
  }

  @Test
  @DisplayName("When a ruleNames entry is set, then only that named rule changes")
  void ruleNames() {
    ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");
    ObjectNode second = (ObjectNode) route.at("/spec/rules/0").deepCopy();
    second.put("name", "beta");
    second
        .putArray("matches")
        .addObject()
        .putObject("path")
        .put("type", "PathPrefix")
        .put("value", "/beta");
    ((ObjectNode) route.at("/spec/rules/0")).put("name", "main");
    ((com.fasterxml.jackson.databind.node.ArrayNode) route.at("/spec/rules")).add(second);
    e.create(route);
    Rollout rollout =
        rollout("{'httpRoutes': [{'name': 'argo-rollouts-http-route', 'ruleNames': ['beta']}]}");

    e.router.setWeight(CALLER, rollout, 15, List.of());

    JsonNode stored = e.http("argo-rollouts-http-route");
    assertThat(weights(stored, 0)).containsExactly(entry(STABLE, 1), entry(CANARY, 1));
    assertThat(weights(stored, 1)).containsExactly(entry(STABLE, 85), entry(CANARY, 15));
  }
}
