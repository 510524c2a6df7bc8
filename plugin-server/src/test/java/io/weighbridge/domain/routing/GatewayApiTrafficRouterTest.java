package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.exact;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.rules;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.WeightDestination;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class GatewayApiTrafficRouterTest {
  private static final String LABEL = RoutingConfigParser.DEFAULT_LABEL_KEY;

  private final RouterHarness h = new RouterHarness();

  @AfterEach
  void tearDown() {
    h.close();
  }

  private static String label(ObjectNode route) {
    return route.path("metadata").path("labels").path(LABEL).asText(null);
  }

  @Nested
  @DisplayName("several routes")
  class SeveralRoutes {

    @Test
    @DisplayName("When every kind is configured, then SetWeight sets every route")
    void everyKind() {
      RouteId http = h.cluster.put(Fixtures.exampleRoute("traefik/httproute.yml"));
      RouteId grpc = h.cluster.put(Fixtures.grpcRoute());
      RouteId tcp = h.cluster.put(Fixtures.tcpRoute());
      RouteId tls = h.cluster.put(Fixtures.tlsRoute());
      Rollout r =
          rollout(
              "{'httpRoute': 'argo-rollouts-http-route', 'grpcRoute': 'greeter', 'tcpRoute': 'db',"
                  + " 'tlsRoutes': [{'name': 'tls'}]}");

      h.router.setWeight(CALLER, r, 10, List.of());

      for (RouteId id : List.of(http, grpc, tcp, tls)) {
        assertThat(weights(h.cluster.object(id), 0))
            .as(id.toString())
            .containsEntry(CANARY, 10)
            .containsEntry(STABLE, 90);
      }
    }

    @Test
    @DisplayName("When one of three routes fails, then the others are updated and both are named")
    void partialFailure() {
      RouteId a = h.cluster.put(route("a"));
      RouteId b = h.cluster.put(route("b"));
      RouteId c = h.cluster.put(route("c"));
      h.cluster.failNextPatch(
          b, new RejectedException("admission webhook \"linkerd\" denied the request: CORS"));
      Rollout r = rollout("{'httpRoutes': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}]}");

      assertThatThrownBy(() -> h.router.setWeight(CALLER, r, 20, List.of()))
          .isInstanceOfSatisfying(
              PartialFailureException.class,
              e -> {
                assertThat(e.succeeded())
                    .containsExactly("HTTPRoute default/a", "HTTPRoute default/c");
                assertThat(e.failed()).containsExactly("HTTPRoute default/b");
                assertThat(e.firstFailure()).isInstanceOf(RejectedException.class);
              })
          .hasMessage(
              "SetWeight updated HTTPRoute default/a, HTTPRoute default/c but failed on 1 of 3"
                  + " routes: admission webhook \"linkerd\" denied the request: CORS");
      assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 20);
      assertThat(weights(h.cluster.object(b), 0)).containsEntry(CANARY, 0);
      assertThat(weights(h.cluster.object(c), 0)).containsEntry(CANARY, 20);
      assertThat(h.metrics.events).contains("failed HTTPRoute default/b SET_WEIGHT");
    }

    @Test
    @DisplayName("When the only route fails, then its own error is thrown")
    void singleFailure() {
      RouteId a = h.cluster.put(route("a"));
      h.cluster.failNextPatch(a, new RejectedException("denied"));

      assertThatThrownBy(
              () -> h.router.setWeight(CALLER, rollout("{'httpRoute': 'a'}"), 20, List.of()))
          .isInstanceOf(RejectedException.class)
          .hasMessage("denied");
    }

    @Test
    void routeMissing() {
      assertThatThrownBy(
              () -> h.router.setWeight(CALLER, rollout("{'httpRoute': 'nope'}"), 20, List.of()))
          .isInstanceOf(NotFoundException.class)
          .hasMessage(
              "HTTPRoute default/nope (from plugins[\"weighbridge/gateway-api\"].httpRoute) does not"
                  + " exist: create it, or fix the name in the plugin configuration");
    }

    @Test
    void kindNotServed() {
      h.cluster.serve(RouteKind.TCP, null);

      assertThatThrownBy(
              () -> h.router.setWeight(CALLER, rollout("{'tcpRoute': 'db'}"), 20, List.of()))
          .isInstanceOf(NotFoundException.class)
          .hasMessageContaining("the cluster does not serve TCPRoute (gateway.networking.k8s.io)")
          .hasMessageContaining("experimental channel");
    }

    @Test
    @DisplayName("When selectors are used, then matchLabels and matchExpressions pick the routes")
    void selectors() {
      RouteId web = h.cluster.put(labelled(route("web"), "tier", "web"));
      RouteId api = h.cluster.put(labelled(route("api"), "tier", "api"));
      RouteId db = h.cluster.put(labelled(route("db"), "tier", "db"));
      ObjectNode unlabelled = route("other");
      ((ObjectNode) unlabelled.path("metadata")).remove("labels");
      RouteId other = h.cluster.put(unlabelled);
      Rollout r =
          rollout(
              "{'httpRouteSelector': {'matchLabels': {'app': 'demo'}, 'matchExpressions':"
                  + " [{'key': 'tier', 'operator': 'NotIn', 'values': ['db']}]}}");

      h.router.setWeight(CALLER, r, 5, List.of());

      assertThat(weights(h.cluster.object(web), 0)).containsEntry(CANARY, 5);
      assertThat(weights(h.cluster.object(api), 0)).containsEntry(CANARY, 5);
      assertThat(weights(h.cluster.object(db), 0)).containsEntry(CANARY, 0);
      assertThat(weights(h.cluster.object(other), 0)).containsEntry(CANARY, 0);
    }

    @Test
    void selectorFindsNothing() {
      assertThatThrownBy(
              () ->
                  h.router.setWeight(
                      CALLER,
                      rollout("{'grpcRouteSelector': {'matchLabels': {'app': 'x'}}}"),
                      5,
                      List.of()))
          .isInstanceOf(NotFoundException.class)
          .hasMessage(
              "no route matches plugins[\"weighbridge/gateway-api\"].grpcRouteSelector in namespace"
                  + " default: label the routes the Rollout should shift, or fix the selector");
    }

    @Test
    @DisplayName("When the connector runs as the incumbent's name, then its key is read")
    void incumbentKey() {
      RouteId a = h.cluster.put(route("a"));
      Rollout r = rollout().plugin(Fixtures.INCUMBENT_PLUGIN, "{'httpRoute': 'a'}").build();

      h.router.setWeight(new Caller(Fixtures.INCUMBENT_PLUGIN, "v"), r, 15, List.of());

      assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 15);
    }

    @Test
    @DisplayName("When the Rollout's generation changes, then the new configuration is used")
    void configurationFollowsGeneration() {
      RouteId a = h.cluster.put(route("a"));
      RouteId b = h.cluster.put(route("b"));

      h.router.setWeight(
          CALLER, rollout().generation(1).plugin("{'httpRoute': 'a'}").build(), 10, List.of());
      h.router.setWeight(
          CALLER, rollout().generation(2).plugin("{'httpRoute': 'b'}").build(), 10, List.of());

      assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 10);
      assertThat(weights(h.cluster.object(b), 0)).containsEntry(CANARY, 10);
    }
  }

  @Nested
  @DisplayName("managed routes and the label")
  class Managed {

    private final Rollout demo =
        rollout()
            .managedRoutes("canary-header", "mirror-1")
            .plugin("{'httpRoute': 'shop', 'grpcRoute': 'greeter'}")
            .build();

    @Test
    @DisplayName(
        "When RemoveManagedRoutes runs, then this Rollout's rules and experiments go, nothing else")
    void removeManagedRoutes() {
      RouteId shop = h.cluster.put(Fixtures.richHttpRoute());
      RouteId greeter = h.cluster.put(Fixtures.grpcRoute());
      h.cluster.putService("default", "exp-a", 8080);
      h.router.setWeight(CALLER, demo, 20, List.of(new WeightDestination("exp-a", "h", 10)));
      h.router.setHeaderRoute(
          CALLER, demo, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));
      h.router.setMirrorRoute(
          CALLER,
          demo,
          new MirrorRoute(
              "mirror-1",
              List.of(new RequestMatch(null, MirrorRoutePlannerTest.prefix("/"), Map.of())),
              null));
      assertThat(rules(h.cluster.object(shop))).hasSize(7);
      assertThat(rules(h.cluster.object(greeter))).hasSize(2);

      h.router.removeManagedRoutes(CALLER, demo);

      assertThat(rules(h.cluster.object(shop))).hasSize(4);
      assertThat(weights(h.cluster.object(shop), 0))
          .containsExactly(entry(STABLE, 80), entry(CANARY, 20));
      assertThat(rules(h.cluster.object(greeter))).hasSize(1);
      assertThat(label(h.cluster.object(shop))).isEqualTo("in-progress");
      int writes = h.cluster.writes().size();

      h.router.removeManagedRoutes(CALLER, demo);
      h.router.setWeight(CALLER, demo, 0, List.of());

      assertThat(h.cluster.writes()).hasSize(writes + 2);
      assertThat(label(h.cluster.object(shop))).isNull();
      assertThat(RouteJson.annotation(h.cluster.object(shop), Ledger.ANNOTATION)).isNull();
      assertThat(weights(h.cluster.object(shop), 0))
          .containsExactly(entry(STABLE, 100), entry(CANARY, 0));
    }

    @Test
    @DisplayName("When two Rollouts share a route, then the label stays until the last one is done")
    void labelIsReferenceCounted() {
      ObjectNode shared = Fixtures.richHttpRoute();
      ArrayNode rules = (ArrayNode) shared.path("spec").path("rules");
      rules.add(
          obj(
              """
              {'name': 'cart', 'matches': [{'path': {'type': 'PathPrefix', 'value': '/cart'}}],
               'backendRefs': [{'name': 'cart-stable', 'port': 80, 'weight': 100},
                               {'name': 'cart-canary', 'port': 80, 'weight': 0}]}
              """));
      RouteId shop = h.cluster.put(shared);
      Rollout cart =
          rollout()
              .name("cart")
              .services("cart-canary", "cart-stable")
              .managedRoutes("cart-header")
              .plugin("{'httpRoute': 'shop'}")
              .build();
      Rollout demo = rollout().plugin("{'httpRoute': 'shop'}").build();

      h.router.setWeight(CALLER, demo, 10, List.of());
      h.router.setHeaderRoute(
          CALLER, cart, new HeaderRoute("cart-header", List.of(exact("X-Cart", "new"))));
      assertThat(label(h.cluster.object(shop))).isEqualTo("in-progress");

      h.router.setWeight(CALLER, demo, 0, List.of());
      assertThat(label(h.cluster.object(shop))).isEqualTo("in-progress");
      assertThat(weights(h.cluster.object(shop), 4))
          .containsExactly(entry("cart-stable", 100), entry("cart-canary", 0));

      h.router.removeManagedRoutes(CALLER, cart);
      assertThat(label(h.cluster.object(shop))).isNull();
      assertThat(rules(h.cluster.object(shop))).hasSize(5);
    }

    @Test
    @DisplayName(
        "When the label is disabled, then no label, the ledger records only the weights during"
            + " the canary, and nothing is left once it ends")
    void labelDisabled() {
      RouteId a = h.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a', 'disableInProgressLabel': true}");

      h.router.setWeight(CALLER, r, 10, List.of());

      assertThat(label(h.cluster.object(a))).isNull();
      assertThat(RouteJson.annotation(h.cluster.object(a), Ledger.ANNOTATION))
          .isEqualTo(
              "{\"version\":1,\"rollouts\":{\"default/rollouts-demo\":{\"uid\":"
                  + "\"uid-rollouts-demo\",\"weights\":{\"canary\":10,\"stable\":90}}}}");

      h.router.setWeight(CALLER, r, 0, List.of());

      assertThat(h.cluster.object(a).path("metadata").has("annotations")).isFalse();
    }

    @Test
    @DisplayName("When a header route is asked but no route allows it, then a clear error")
    void noRouteForHeaderRoute() {
      h.cluster.put(route("a"));
      Rollout r = rollout().managedRoutes("h").plugin("{'httpRoutes': [{'name': 'a'}]}").build();

      assertThatThrownBy(
              () ->
                  h.router.setHeaderRoute(
                      CALLER, r, new HeaderRoute("h", List.of(exact("X-A", "1")))))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining(
              "no HTTPRoute or GRPCRoute in plugins[\"weighbridge/gateway-api\"]"
                  + " has useHeaderRoutes: true");
    }

    @Test
    @DisplayName("When a mirror route is set, then GRPCRoutes are skipped and HTTPRoutes carry it")
    void mirrorSkipsGrpc() {
      RouteId shop = h.cluster.put(Fixtures.richHttpRoute());
      RouteId greeter = h.cluster.put(Fixtures.grpcRoute());

      h.router.setMirrorRoute(
          CALLER,
          demo,
          new MirrorRoute(
              "mirror-1",
              List.of(new RequestMatch(null, MirrorRoutePlannerTest.prefix("/"), Map.of())),
              50));

      assertThat(rules(h.cluster.object(shop))).hasSize(5);
      assertThat(h.cluster.writes(greeter)).isEmpty();
    }
  }

  @Test
  @DisplayName("When a concurrent writer reorders backendRefs, then the test ops catch it")
  void testOpsGuardPositions() {
    h.cluster.withoutResourceVersionCheck();
    RouteId a = h.cluster.put(route("a"));
    h.cluster.interfereBeforeNextPatch(
        a,
        r -> {
          ArrayNode refs = (ArrayNode) r.path("spec").path("rules").get(0).path("backendRefs");
          refs.insert(0, refs.remove(1));
        });

    h.router.setWeight(CALLER, rollout("{'httpRoute': 'a'}"), 30, List.of());

    assertThat(weights(h.cluster.object(a), 0))
        .containsExactly(entry(CANARY, 30), entry(STABLE, 70));
  }

  @Test
  @DisplayName("UpdateHash writes nothing")
  void updateHash() {
    h.router.updateHash(
        CALLER,
        rollout("{'httpRoute': 'a'}"),
        "c1",
        "s1",
        List.of(new WeightDestination("x", "h", 1)));

    assertThat(h.cluster.writes()).isEmpty();
  }

  static ObjectNode route(String name) {
    ObjectNode r =
        obj(
            """
            {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
             'metadata': {'namespace': 'default', 'labels': {'app': 'demo'}},
             'spec': {'parentRefs': [{'name': 'gw'}],
                      'rules': [{'backendRefs': [
                        {'name': 'argo-rollouts-stable-service', 'port': 80, 'weight': 100},
                        {'name': 'argo-rollouts-canary-service', 'port': 80, 'weight': 0}]}]}}
            """);
    ((ObjectNode) r.path("metadata")).put("name", name);
    return r;
  }

  private static ObjectNode labelled(ObjectNode route, String key, String value) {
    ((ObjectNode) route.path("metadata").path("labels")).put(key, value);
    return route;
  }

  @Test
  @DisplayName(
      "When a veto (wired around the engine) refuses the canary, then SetWeight above 0 writes"
          + " nothing; 0 still goes")
  void vetoedSetWeight() {
    RouteId http = h.cluster.put(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout r = rollout("{'httpRoute': 'argo-rollouts-http-route'}");
    io.weighbridge.server.AnalyzedEngine engine =
        new io.weighbridge.server.AnalyzedEngine(h.router);
    engine.setWeight(CALLER, r, 10, List.of());
    List<Integer> asked = new java.util.ArrayList<>();
    engine.addWeightVeto(
        (rollout, plugin, weight) -> {
          asked.add(weight);
          return java.util.Optional.of("the analyzer aborted it");
        });

    assertThatThrownBy(() -> engine.setWeight(CALLER, r, 30, List.of()))
        .isInstanceOf(io.weighbridge.domain.RejectedException.class)
        .hasMessage("the analyzer aborted it");
    assertThat(weights(h.cluster.object(http), 0)).containsEntry(CANARY, 10);

    engine.setWeight(CALLER, r, 0, List.of());
    assertThat(weights(h.cluster.object(http), 0)).containsEntry(CANARY, 0);
    assertThat(asked).containsExactly(30);
  }
}
