package io.weighbridge.adapter.kubernetes;

import static io.weighbridge.adapter.kubernetes.RouteFixtures.create;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.setWeights;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.weight;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient.Settings;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The adapter on a cluster of the Linkerd 2.15-2.17 era: Gateway API v1.0.0 CRDs, where GRPCRoute
 * exists only as v1alpha2.
 */
@WithKubeApiServer(gatewayApi = "v1.0.0-experimental")
class KubernetesRouteClientGatewayApiV100IT {

  private static final String ALPHA2 = RouteFixtures.GROUP + "/v1alpha2";

  private final ApiCallCounter calls = new ApiCallCounter();
  private KubernetesClient counted;
  private KubernetesRouteClient routes;

  @BeforeEach
  void setUp(KubernetesClient client) {
    counted = KubernetesClients.counted(client, calls);
    routes = new KubernetesRouteClient(counted, Settings.defaults());
  }

  @AfterEach
  void tearDown() {
    routes.close();
    counted.close();
  }

  @Test
  @DisplayName("When Gateway API v1.0.0 is installed, then GRPCRoute resolves to v1alpha2")
  void discovery() {
    assertThat(routes.apiVersion(RouteKind.HTTP)).contains(RouteFixtures.GROUP + "/v1");
    assertThat(routes.apiVersion(RouteKind.GRPC)).contains(ALPHA2);
    assertThat(routes.apiVersion(RouteKind.TCP)).contains(ALPHA2);
    assertThat(routes.apiVersion(RouteKind.TLS)).contains(ALPHA2);
  }

  @Test
  @DisplayName("When a GRPCRoute is only served as v1alpha2, then it is read and patched there")
  void grpcRouteOnAlpha(KubernetesClient client, TestNamespace namespace) {
    create(client, RouteFixtures.grpcRoute(ALPHA2, namespace.name(), "grpc"));
    RouteId id = new RouteId(RouteKind.GRPC, namespace.name(), "grpc");

    ObservedRoute before = routes.get(id).orElseThrow();
    ObservedRoute after = routes.patch(id, current -> setWeights(75, 25));

    assertThat(before.apiVersion()).isEqualTo(ALPHA2);
    assertThat(after.apiVersion()).isEqualTo(ALPHA2);
    assertThat(weight(after, 1)).isEqualTo(25);
    assertThat(calls.count(Verb.PATCH, "grpcroutes")).isEqualTo(1);
    assertThat(
            weight(
                client
                    .genericKubernetesResources(RouteFixtures.context(ALPHA2, "GRPCRoute"))
                    .inNamespace(namespace.name())
                    .withName("grpc")
                    .get(),
                1))
        .isEqualTo(25);
  }

  @Test
  @DisplayName("When v1.0.0 lacks rule names, then servesField says so")
  void servesField() {
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].name")).isFalse();
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].backendRefs[].weight")).isTrue();
    assertThat(routes.servesField(RouteKind.GRPC, "spec.rules[].name")).isFalse();
    assertThat(routes.servesField(RouteKind.GRPC, "spec.rules[].backendRefs[].weight")).isTrue();
  }
}
