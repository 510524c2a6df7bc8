package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.EngineSupport.weights;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.INCUMBENT_PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The engine on a cluster serving HTTPRoute only as v1beta1 (as older Linkerd installs did). No
 * upstream bundle does that: the CRD is derived from the v1.0.0 standard HTTPRoute CRD by dropping
 * v1, in a server of this class's own (as the Kubernetes adapter's HttpRouteBetaOnlyIT does).
 */
class HttpRouteBetaOnlyEngineIT {

  private static final String BETA = GROUP + "/v1beta1";
  private static final String NS = "linkerd-beta";

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
  @DisplayName(
      "When the Linkerd example runs where HTTPRoute is only v1beta1, then SetWeight, the status"
          + " check and the in-progress label work through v1beta1")
  void linkerdExampleOnV1beta1() throws Exception {
    try (EngineSupport e = new EngineSupport(server.client(), NS)) {
      e.create(EngineSupport.example("linkerd/httproute.yaml", "HTTPRoute"));
      Rollout rollout = e.exampleRollout("linkerd/rollout.yaml", INCUMBENT_PLUGIN);
      Caller incumbent = new Caller(INCUMBENT_PLUGIN, "it");

      e.router.setWeight(incumbent, rollout, 30, List.of());

      JsonNode route = e.get(BETA, "HTTPRoute", NS, "argo-rollouts-http-route");
      assertThat(weights(route, 0)).containsExactly(entry(STABLE, 70), entry(CANARY, 30));
      assertThat(route.at("/metadata/labels/rollouts.argoproj.io~1gatewayapi-canary").asText())
          .isEqualTo("in-progress");
      e.writeStatus(
          BETA,
          "HTTPRoute",
          "argo-rollouts-http-route",
          true,
          route.at("/metadata/generation").asLong());
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(5))
          .until(
              () ->
                  e.router.verifyWeight(incumbent, rollout, 30, List.of()).verification()
                      == Verification.VERIFIED);
    }
  }
}
