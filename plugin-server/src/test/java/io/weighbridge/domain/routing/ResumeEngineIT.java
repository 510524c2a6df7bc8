package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.EngineSupport.GROUP;
import static io.weighbridge.domain.routing.EngineSupport.weights;
import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.INCUMBENT_PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.metrics.MicrometerRoutingMetrics;
import io.weighbridge.domain.Rollout;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Drift restoration resumed after a plugin-server restart, on a real kube-apiserver: engine A sets
 * the weight and stops; engine B (a new KubernetesRouteClient and engine, as after a restart)
 * resumes from the routes' ledgers and the Rollout as the API server has it, with no plugin call.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class ResumeEngineIT {

  private static final String ROUTE = "argo-rollouts-http-route";

  private KubernetesClient client;
  private String ns;
  private EngineSupport a;
  private EngineSupport b;
  private boolean aClosed;

  /** Stops engine A as a plugin-server restart would (its watches and informers end). */
  private void stopA() throws Exception {
    a.close();
    aClosed = true;
  }

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    this.client = client;
    ns = namespace.name();
    a = new EngineSupport(client, ns);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (!aClosed) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
  }

  /** Creates the Rollout in the API server and returns it as Argo would send it (real uid). */
  private Rollout createRollout() {
    Rollout built =
        Fixtures.rollout().namespace(ns).plugin("{'httpRoute': '" + ROUTE + "'}").build();
    JsonNode created = a.create(built.json());
    String uid = created.at("/metadata/uid").asText();
    assertThat(uid).isNotEmpty();
    return new Rollout(ns, built.name(), uid, 1, "1", created);
  }

  private void handEdit() {
    a.patch(
        GROUP + "/v1",
        "HTTPRoute",
        ns,
        ROUTE,
        "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/0/weight\",\"value\":100},"
            + "{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":0}]");
  }

  @Test
  @DisplayName(
      "When engine A set 30% and stopped, then engine B resumes at start and restores a hand edit"
          + " with no plugin call")
  void engineBRestoresWithoutAnyCall() throws Exception {
    a.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = createRollout();
    a.router.setWeight(CALLER, rollout, 30, List.of());
    stopA();

    b = new EngineSupport(client, ns);
    GatewayApiTrafficRouter.ResumeReport report =
        b.router
            .resume(b.routes, ResumeSettings.allNamespaces(List.of(PLUGIN, INCUMBENT_PLUGIN)))
            .get(30, TimeUnit.SECONDS);
    assertThat(report.resumed()).contains(rollout.key());

    handEdit();

    // A liveness bound, not a timed assertion.
    await()
        .atMost(10, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              assertThat(weights(b.http(ROUTE), 0))
                  .containsExactly(entry(STABLE, 70), entry(CANARY, 30));
              assertThat(b.counter(MicrometerRoutingMetrics.DRIFT, "kind", "HTTPRoute"))
                  .isEqualTo(1);
            });
  }

  @Test
  @DisplayName(
      "When the Rollout was deleted while no engine ran, then engine B does not enforce its last"
          + " weights")
  void deletedRolloutIsNotEnforced() throws Exception {
    a.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = createRollout();
    a.router.setWeight(CALLER, rollout, 30, List.of());
    stopA();
    client
        .genericKubernetesResources(EngineSupport.context("argoproj.io/v1alpha1", "Rollout"))
        .inNamespace(ns)
        .withName(rollout.name())
        .delete();

    b = new EngineSupport(client, ns);
    GatewayApiTrafficRouter.ResumeReport report =
        b.router
            .resume(
                b.routes,
                new ResumeSettings(List.of(PLUGIN), Set.of(ns), 3, Duration.ofMillis(100)))
            .get(30, TimeUnit.SECONDS);

    assertThat(report.resumed()).isEmpty();
    assertThat(report.skipped()).containsEntry(rollout.key(), "the Rollout no longer exists");
    assertThat(b.router.watchedRoutes(rollout.key())).isEmpty();
  }
}
