package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.EngineSupport.rules;
import static io.weighbridge.domain.routing.EngineSupport.weights;
import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.INCUMBENT_PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The engine on the Gateway API v1.0.0 experimental CRDs that Linkerd 2.15-2.17 clusters carry:
 * GRPCRoute only as v1alpha2, HTTPRoute v1/v1beta1 without rule names or mirror percentages.
 */
@WithKubeApiServer(gatewayApi = "v1.0.0-experimental")
class LinkerdEraEngineIT {

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

  @Test
  @DisplayName(
      "When GRPCRoute is served only as v1alpha2 with a Service parent, then SetWeight and a"
          + " header route work on it")
  void grpcRouteV1alpha2() {
    e.create(Fixtures.grpcRoute());
    Rollout rollout =
        Fixtures.rollout()
            .namespace(ns)
            .managedRoutes("canary-header")
            .plugin("{'grpcRoutes': [{'name': 'greeter', 'useHeaderRoutes': true}]}")
            .build();

    e.router.setWeight(CALLER, rollout, 20, List.of());
    e.router.setHeaderRoute(
        CALLER,
        rollout,
        new HeaderRoute(
            "canary-header", List.of(new HeaderMatch("x-canary", new StringMatch("yes", "", "")))));

    JsonNode route = e.get(GROUP + "/v1alpha2", "GRPCRoute", ns, "greeter");
    assertThat(route.at("/spec/parentRefs/0/kind").asText()).isEqualTo("Service");
    int split = -1;
    for (int i = 0; i < rules(route).size(); i++) {
      if (rules(route).get(i).path("backendRefs").size() == 2) {
        split = i;
      }
    }
    assertThat(weights(route, split)).containsExactly(entry(STABLE, 80), entry(CANARY, 20));
    assertThat(rules(route)).hasSize(2);
    assertThat(route.toString()).contains("x-canary");
  }

  @Test
  @DisplayName(
      "When the Linkerd example's v1beta1 HTTPRoute is used with the incumbent's key, then"
          + " SetWeight works; a mirror percentage the schema lacks is refused before any write")
  void linkerdExampleAndMirrorPercentNotServed() {
    JsonNode before = e.create(EngineSupport.example("linkerd/httproute.yaml", "HTTPRoute"));
    Rollout rollout = e.exampleRollout("linkerd-header-based/rollout.yaml", INCUMBENT_PLUGIN);
    Caller incumbent = new Caller(INCUMBENT_PLUGIN, "it");

    e.router.setWeight(incumbent, rollout, 10, List.of());
    assertThat(weights(e.http("argo-rollouts-http-route"), 0))
        .containsExactly(entry(STABLE, 90), entry(CANARY, 10));
    long writes = e.calls.writes();

    MirrorRoute mirror =
        new MirrorRoute(
            "shadow",
            List.of(new RequestMatch(null, new StringMatch("", "/api", ""), Map.of())),
            25);
    assertThatThrownBy(() -> e.router.setMirrorRoute(incumbent, rollout, mirror))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("no requestMirror.percent")
        .hasMessageContaining("install newer Gateway API CRDs");
    assertThat(e.calls.writes()).isEqualTo(writes);

    e.router.setWeight(incumbent, rollout, 0, List.of());
    assertThat(e.http("argo-rollouts-http-route").path("spec").path("rules"))
        .hasSize(rules(before).size());
  }
}
