package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, the engine's consistency model on a real kube-apiserver: a route applied together with
 * its Rollout (what every GitOps tool does) is never called missing while the informer lags, and a
 * call answered NOT_FOUND has no effect later.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class ConsistencyEngineIT {

  private static final String V1 = GROUP + "/v1";
  private static final String ROUTE = "web";

  private KubernetesClient admin;
  private EngineSupport e;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    admin = client;
    e = new EngineSupport(client, namespace.name());
    toClose.add(e);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  private static ObjectNode route(String namespace) {
    ObjectNode route =
        obj(
            """
            {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
             'metadata': {'name': 'web', 'labels': {'app': 'web'}},
             'spec': {
               'parentRefs': [{'name': 'gw'}],
               'rules': [
                 {'matches': [{'path': {'type': 'PathPrefix', 'value': '/'}}],
                  'backendRefs': [
                    {'name': 'argo-rollouts-stable-service', 'port': 80, 'weight': 100},
                    {'name': 'argo-rollouts-canary-service', 'port': 80, 'weight': 0}]}]}}
            """);
    ((ObjectNode) route.path("metadata")).put("namespace", namespace);
    return route;
  }

  private static Rollout rollout(String namespace) {
    return Fixtures.rollout()
        .namespace(namespace)
        .managedRoutes("canary-header", "mirror")
        .plugin("{'httpRoutes': [{'name': 'web', 'useHeaderRoutes': true}]}")
        .build();
  }

  /** Creates the Rollout in the cluster and returns it as Argo would send it. */
  private Rollout applied(Rollout rollout) {
    JsonNode created = e.create(rollout.json(), rollout.namespace());
    return new Rollout(
        rollout.namespace(),
        rollout.name(),
        created.at("/metadata/uid").asText(),
        created.at("/metadata/generation").asLong(),
        created.at("/metadata/resourceVersion").asText(),
        created);
  }

  private static HeaderRoute header() {
    return new HeaderRoute(
        "canary-header", List.of(new HeaderMatch("x-canary", new StringMatch("yes", "", ""))));
  }

  private static MirrorRoute mirror() {
    return new MirrorRoute(
        "mirror", List.of(new RequestMatch(null, new StringMatch("", "/api", ""), Map.of())), 10);
  }

  @Nested
  @DisplayName("When Services, route and Rollout are applied and Argo calls at once")
  class AppliedTogether {

    @Test
    @DisplayName(
        "then SetWeight, SetHeaderRoute and SetMirrorRoute never answer NOT_FOUND, 100 times in"
            + " fresh namespaces, every tenth right after plugin-server starts")
    void neverNotFound() throws Exception {
      EngineSupport engine = e;
      List<String> notFound = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        if (i % 10 == 0) {
          // plugin-server just started: no informer yet, it starts on this iteration's first call
          engine = new EngineSupport(admin, e.ns);
          toClose.add(engine);
        }
        String ns = e.extraNamespace("applied");
        e.service(ns, STABLE, 80);
        e.service(ns, CANARY, 80);
        e.create(route(ns), ns);
        Rollout rollout = applied(rollout(ns));
        try {
          engine.router.setWeight(CALLER, rollout, 10, List.of());
          engine.router.setHeaderRoute(CALLER, rollout, header());
          engine.router.setMirrorRoute(CALLER, rollout, mirror());
        } catch (NotFoundException ex) {
          notFound.add(ns + ": " + ex.getMessage());
        }
        engine.router.setWeight(CALLER, rollout, 0, List.of());
        engine.router.removeManagedRoutes(CALLER, rollout);
      }
      assertThat(notFound).isEmpty();
    }
  }

  @Nested
  @DisplayName("When SetHeaderRoute fails because the route does not exist yet")
  class FailedCallHasNoEffect {

    @Test
    @DisplayName(
        "then the route created 1 s later stays byte-equal to what the user created (5 s on)")
    void routeCreatedLaterIsLeftAlone() {
      Rollout rollout = applied(rollout(e.ns));
      e.service(e.ns, STABLE, 80);
      e.service(e.ns, CANARY, 80);

      assertThatThrownBy(() -> e.router.setHeaderRoute(CALLER, rollout, header()))
          .isInstanceOf(NotFoundException.class)
          .hasMessageContaining("HTTPRoute " + e.ns + "/" + ROUTE)
          .hasMessageContaining("does not exist: create it, or fix the name");

      // The user's route arrives a second later (a GitOps tool applying it after the Rollout).
      await().pollDelay(Duration.ofSeconds(1)).until(() -> true);
      JsonNode created = e.create(route(e.ns), e.ns);

      await()
          .during(Duration.ofSeconds(5))
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () -> {
                JsonNode now = e.get(V1, "HTTPRoute", e.ns, ROUTE);
                assertThat(now.toString()).isEqualTo(created.toString());
              });
      assertThat(e.restored).isEmpty();
    }
  }
}
