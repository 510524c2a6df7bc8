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
    return createRollout(ns);
  }

  private Rollout createRollout(String namespace) {
    Rollout built =
        Fixtures.rollout().namespace(namespace).plugin("{'httpRoute': '" + ROUTE + "'}").build();
    JsonNode created = a.create(built.json(), namespace);
    String uid = created.at("/metadata/uid").asText();
    assertThat(uid).isNotEmpty();
    return new Rollout(namespace, built.name(), uid, 1, "1", created);
  }

  /** A third party sets the route in {@code namespace} to 100/0 (kubectl patch). */
  private void handEdit(String namespace) {
    a.patch(
        GROUP + "/v1",
        "HTTPRoute",
        namespace,
        ROUTE,
        "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/0/weight\",\"value\":100},"
            + "{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":0}]");
  }

  @Test
  @DisplayName(
      "When engine A set 30% and stopped, then engine B resumes at start in every namespace and"
          + " restores a hand edit once, with no plugin call")
  void engineBRestoresWithoutAnyCall() throws Exception {
    a.create(Fixtures.exampleRoute("traefik/httproute.yml"));
    Rollout rollout = createRollout();
    a.router.setWeight(CALLER, rollout, 30, List.of());
    // A neighbour in another namespace, hand-edited while no engine ran. The ITs share one API
    // server, and other test classes leave such Rollouts behind (CliIT's drifted canary): an
    // engine resuming in all namespaces rightly restores them too, so the per-kind drift counter
    // counts more than this route's restoration. The neighbour makes that deterministic.
    String other = a.extraNamespace("t-resume-neighbour");
    a.create(Fixtures.exampleRoute("traefik/httproute.yml"), other);
    Rollout neighbour = createRollout(other);
    a.router.setWeight(CALLER, neighbour, 40, List.of());
    stopA();
    handEdit(other);

    b = new EngineSupport(client, ns);
    ResumeReport report =
        b.router
            .resume(b.routes, ResumeSettings.allNamespaces(List.of(PLUGIN, INCUMBENT_PLUGIN)))
            .get(30, TimeUnit.SECONDS);
    assertThat(report.resumed()).contains(rollout.key(), neighbour.key());

    handEdit(ns);

    RouteId route = new RouteId(RouteKind.HTTP, ns, ROUTE);
    RouteId neighbourRoute = new RouteId(RouteKind.HTTP, other, ROUTE);
    // A liveness bound, not a timed assertion.
    await()
        .atMost(10, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              assertThat(weights(b.http(ROUTE), 0))
                  .containsExactly(entry(STABLE, 70), entry(CANARY, 30));
              assertThat(weights(b.get(GROUP + "/v1", "HTTPRoute", other, ROUTE), 0))
                  .containsExactly(entry(STABLE, 60), entry(CANARY, 40));
              // One real write per hand edit: the resume's recheck and the edit's watch event
              // coalesce, and the event of our own write plans nothing.
              assertThat(b.restorations(route)).isEqualTo(1);
              assertThat(b.restorations(neighbourRoute)).isEqualTo(1);
              // The metric counts exactly the real restorations, whichever routes they were on.
              assertThat(b.counter(MicrometerRoutingMetrics.DRIFT, "kind", "HTTPRoute"))
                  .isEqualTo(
                      (double) b.restored.stream().filter(r -> r.kind() == RouteKind.HTTP).count());
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
    ResumeReport report =
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
