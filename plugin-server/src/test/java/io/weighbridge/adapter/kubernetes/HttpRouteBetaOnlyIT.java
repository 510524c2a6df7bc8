package io.weighbridge.adapter.kubernetes;

import static io.weighbridge.adapter.kubernetes.RouteFixtures.create;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.httpRoute;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.setWeights;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.weight;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient.Settings;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The adapter on a cluster that serves HTTPRoute only as v1beta1. No upstream bundle does that, so
 * the CRD is derived at test time from the pinned Gateway API v1.0.0 standard HTTPRoute CRD by
 * dropping its v1 version (v1beta1 is that bundle's storage version). The derived CRD goes into a
 * server of this class's own, not into a server shared with other tests.
 */
class HttpRouteBetaOnlyIT {

  private static final String BETA = RouteFixtures.GROUP + "/v1beta1";
  private static final String NS = "beta-only";

  private static KubeApiServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = KubeApiServer.start();
    KubernetesClient client = server.client();
    Crds.locate().installWithout(client, "gateway-api-v1.0.0-standard", "HTTPRoute", "v1");
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
  }

  @AfterAll
  static void stopServer() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  @DisplayName("When HTTPRoute is served only as v1beta1, then it is read and patched as v1beta1")
  void betaOnly() {
    create(server.client(), httpRoute(BETA, NS, "web", Map.of(), false));
    RouteId id = new RouteId(RouteKind.HTTP, NS, "web");
    try (var routes =
        new KubernetesRouteClient(server.client(), Settings.defaults(), new ApiCallCounter())) {
      assertThat(routes.apiVersion(RouteKind.HTTP)).contains(BETA);

      ObservedRoute result = routes.patch(id, current -> setWeights(85, 15));

      assertThat(result.apiVersion()).isEqualTo(BETA);
      assertThat(weight(result, 1)).isEqualTo(15);
      assertThat(weight(routes.get(id).orElseThrow(), 1)).isEqualTo(15);
      assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].backendRefs[].weight")).isTrue();
    }
  }

  @Test
  @DisplayName(
      "When a kind is not served at all, then reads are empty and writes say what to install")
  void kindNotServed() {
    RouteId id = new RouteId(RouteKind.GRPC, NS, "grpc");
    try (var routes =
        new KubernetesRouteClient(server.client(), Settings.defaults(), new ApiCallCounter())) {
      assertThat(routes.apiVersion(RouteKind.GRPC)).isEmpty();
      assertThat(routes.get(id)).isEmpty();
      assertThat(routes.servesField(RouteKind.GRPC, "spec.rules")).isFalse();
      assertThatThrownBy(() -> routes.patch(id, current -> setWeights(1, 99)))
          .isInstanceOf(NotFoundException.class)
          .hasMessageContaining("serves no GRPCRoute version")
          .hasMessageContaining("Install the Gateway API CRDs");
    }
  }
}
