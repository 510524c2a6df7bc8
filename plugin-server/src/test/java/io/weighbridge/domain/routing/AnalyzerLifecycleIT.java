package io.weighbridge.domain.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.adapter.kubernetes.KubernetesLeaderElection;
import io.weighbridge.adapter.kubernetes.KubernetesRolloutActions;
import io.weighbridge.adapter.kubernetes.KubernetesRolloutWatcher;
import io.weighbridge.adapter.prometheus.PrometheusClient;
import io.weighbridge.adapter.prometheus.PrometheusProcess;
import io.weighbridge.adapter.prometheus.PrometheusSettings;
import io.weighbridge.adapter.prometheus.SyntheticWorkloadExporter;
import io.weighbridge.adapter.prometheus.SyntheticWorkloadExporter.TraefikScheme;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.analysis.AnalysisCoordinator;
import io.weighbridge.domain.analysis.AnalysisCoordinator.AnalysisView;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Phase;
import io.weighbridge.domain.analysis.AnalysisMetrics;
import io.weighbridge.domain.analysis.Analyzer;
import io.weighbridge.domain.analysis.Leadership;
import io.weighbridge.domain.analysis.MetricsSource;
import io.weighbridge.domain.analysis.Verdict;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The analyzer's whole loop on real servers: a real Prometheus scraping the synthetic workload
 * every second, a real kube-apiserver with the Argo Rollouts and Gateway API CRDs, the routing
 * engine, the Rollout informer, the Kubernetes actions and (in one test) two replicas electing a
 * leader with a Lease. The test plays Argo: it creates the Rollout, writes its status (canary step
 * at weight 5) and calls SetWeight; the analyzer must do the rest.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental", argoRollouts = true)
class AnalyzerLifecycleIT {

  /**
   * A plugin name of this test only (the namespace's), so that no analyzer of another test acts on
   * this test's Rollouts: every analyzer watches all namespaces.
   */
  private String plugin;

  private static SyntheticWorkloadExporter exporter;
  private static PrometheusProcess prometheus;

  private EngineSupport e;
  private String ns;
  private KubernetesClient admin;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeAll
  static void startPrometheus() throws Exception {
    exporter = new SyntheticWorkloadExporter(11, Clock.systemUTC());
    prometheus = PrometheusProcess.start(exporter.target());
  }

  @AfterAll
  static void stopPrometheus() {
    if (prometheus != null) {
      prometheus.close();
    }
    if (exporter != null) {
      exporter.close();
    }
  }

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    admin = client;
    ns = namespace.name();
    plugin = "weighbridge-it/" + ns;
    e = new EngineSupport(client, ns);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    e.close();
  }

  // ---- the world: workload series, route, Rollout in a canary step ----

  /** Stable at 45 req/s with 0.5% errors, the canary at 5 req/s with {@code canaryErrors}. */
  private void workload(String app, double canaryErrors) {
    exporter
        .backend(ns, app + "-stable", app, false, TraefikScheme.NEW)
        .rate(45)
        .errors(0.005)
        .evenlySpread();
    exporter
        .backend(ns, app + "-canary", app, false, TraefikScheme.NEW)
        .rate(5)
        .errors(canaryErrors)
        .evenlySpread();
  }

  /**
   * Creates an HTTPRoute under a Gateway and a Rollout using it, puts the Rollout in a canary step
   * at weight 5 (status as Argo writes it) and sends SetWeight(5) as Argo would.
   */
  private Rollout canaryStep(String app, String analysis) {
    e.create(
        Fixtures.json(
            """
            {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
             'metadata': {'name': '%s'},
             'spec': {'parentRefs': [{'name': 'traefik-gateway'}],
                      'rules': [{'backendRefs': [{'name': '%s-stable', 'port': 80},
                                                 {'name': '%s-canary', 'port': 80}]}]}}
            """
                .formatted(app, app, app)));
    String config =
        "{'httpRoute': '" + app + "'" + (analysis.isEmpty() ? "" : ", " + analysis) + "}";
    ObjectNode spec =
        Fixtures.obj(
            """
            {'apiVersion': 'argoproj.io/v1alpha1', 'kind': 'Rollout',
             'metadata': {'name': '%s'},
             'spec': {'replicas': 1,
                      'selector': {'matchLabels': {'app': '%s'}},
                      'template': {'metadata': {'labels': {'app': '%s'}},
                                   'spec': {'containers': [{'name': 'app', 'image': 'x'}]}},
                      'strategy': {'canary': {'canaryService': '%s-canary',
                                              'stableService': '%s-stable',
                                              'steps': [{'setWeight': 5}, {'pause': {}}],
                                              'trafficRouting': {'plugins': {}}}}}}
            """
                .formatted(app, app, app, app, app));
    ((ObjectNode) spec.at("/spec/strategy/canary/trafficRouting/plugins"))
        .set(plugin, Fixtures.json(config));
    JsonNode created = e.create(spec);
    JsonNode withStatus =
        patchStatus(
            app,
            """
            {"status": {"currentPodHash": "c0ffee", "stableRS": "beef00", "currentStepIndex": 0,
              "canary": {"weights": {
                "canary": {"weight": 5, "serviceName": "%s-canary", "podTemplateHash": "c0ffee"},
                "stable": {"weight": 95, "serviceName": "%s-stable", "podTemplateHash": "beef00"}}}}}
            """
                .formatted(app, app));
    Rollout rollout =
        new Rollout(
            ns,
            app,
            created.at("/metadata/uid").asText(),
            created.at("/metadata/generation").asLong(),
            withStatus.at("/metadata/resourceVersion").asText(),
            withStatus);
    e.router.setWeight(new Caller(plugin, "it"), rollout, 5, List.of());
    return rollout;
  }

  private JsonNode patchStatus(String name, String mergePatch) {
    return e.toJson(
        admin
            .genericKubernetesResources(KubernetesRolloutActions.ROLLOUTS)
            .inNamespace(ns)
            .withName(name)
            .subresource("status")
            .patch(
                new PatchContext.Builder().withPatchType(PatchType.JSON_MERGE).build(),
                mergePatch));
  }

  private JsonNode rolloutNow(String name) {
    return e.toJson(
        admin
            .genericKubernetesResources(KubernetesRolloutActions.ROLLOUTS)
            .inNamespace(ns)
            .withName(name)
            .get());
  }

  private List<Event> events(String rollout) {
    return admin.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(ev -> rollout.equals(ev.getInvolvedObject().getName()))
        .toList();
  }

  // ---- the analyzer as Main wires it, with test timing ----

  private AnalysisCoordinator analyzer(
      MetricsSource metrics, Leadership leadership, Duration inconclusiveGrace) {
    AnalysisCoordinator c =
        new AnalysisCoordinator(
            new Analyzer(metrics),
            e.router,
            new KubernetesRolloutActions(admin, leadership.identity(), Clock.systemUTC()),
            leadership,
            AnalysisMetrics.NONE,
            new AnalysisCoordinator.Settings(
                Duration.ofMillis(500),
                inconclusiveGrace,
                Duration.ofSeconds(30),
                Duration.ofMinutes(15),
                Set.of(plugin)),
            Clock.systemUTC());
    e.router.addWeightListener(c::weightSet);
    e.router.addWeightVeto(c::vetoCanary);
    KubernetesRolloutWatcher watcher =
        new KubernetesRolloutWatcher(
            admin, c::rolloutObserved, c::rolloutDeleted, new SimpleMeterRegistry());
    watcher.start();
    c.start();
    toClose.add(watcher);
    toClose.add(c);
    return c;
  }

  private AnalysisCoordinator analyzer() {
    return analyzer(prometheusSource(), Leadership.always("it-a"), Duration.ofSeconds(60));
  }

  private static MetricsSource prometheusSource() {
    return new PrometheusClient(PrometheusSettings.of(URI.create(prometheus.url())));
  }

  private static Optional<AnalysisView> view(AnalysisCoordinator c, String rollout) {
    return c.snapshot().analyses().stream().filter(a -> a.rollout().equals(rollout)).findFirst();
  }

  // ---- scenarios ----

  @Test
  @DisplayName(
      "When the canary is as healthy as stable, then after 100 canary requests nothing was"
          + " done")
  void healthyCanary() {
    workload("calm", 0.005);
    AnalysisCoordinator c = analyzer();
    canaryStep("calm", "");

    await()
        .atMost(Duration.ofSeconds(90))
        .until(
            () ->
                view(c, "calm")
                    .flatMap(AnalysisView::verdict)
                    .filter(v -> v.outcome() == Verdict.Outcome.HEALTHY)
                    .filter(v -> v.checks().getFirst().canarySamples() >= 100)
                    .isPresent());

    assertThat(view(c, "calm").orElseThrow().phase()).isEqualTo(Phase.ANALYZING);
    assertThat(rolloutNow("calm").at("/status/abort").asBoolean(false)).isFalse();
    assertThat(rolloutNow("calm").at("/spec/paused").asBoolean(false)).isFalse();
    assertThat(EngineSupport.weights(e.http("calm"), 0))
        .containsExactly(entry("calm-stable", 95), entry("calm-canary", 5));
    assertThat(events("calm")).isEmpty();
  }

  @Test
  @DisplayName(
      "When the canary fails every request, then its weight is 0 on the route, the"
          + " Rollout is aborted and an Event has the evidence")
  void failingCanaryIsReverted() {
    workload("broken", 1.0);
    AnalysisCoordinator c = analyzer();
    Rollout asArgoSawIt = canaryStep("broken", "");

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> rolloutNow("broken").at("/status/abort").asBoolean(false));

    assertThat(EngineSupport.weights(e.http("broken"), 0))
        .containsExactly(entry("broken-stable", 100), entry("broken-canary", 0));
    assertThat(view(c, "broken").orElseThrow().phase()).isEqualTo(Phase.ABORTED);
    // a SetWeight Argo started before it saw the abort does not put traffic back on the canary
    assertThatThrownBy(
            () -> e.router.setWeight(new Caller(plugin, "it"), asArgoSawIt, 5, List.of()))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining("analyzer aborted the canary");
    assertThat(EngineSupport.weights(e.http("broken"), 0))
        .containsExactly(entry("broken-stable", 100), entry("broken-canary", 0));
    await().atMost(Duration.ofSeconds(10)).until(() -> !events("broken").isEmpty());
    assertThat(events("broken"))
        .singleElement()
        .satisfies(
            ev -> {
              assertThat(ev.getReason()).isEqualTo(AnalysisCoordinator.REASON_ABORTED);
              assertThat(ev.getType()).isEqualTo("Warning");
              assertThat(ev.getReportingComponent()).isEqualTo("weighbridge");
              assertThat(ev.getSource().getComponent()).isEqualTo("weighbridge");
              assertThat(ev.getInvolvedObject().getKind()).isEqualTo("Rollout");
              assertThat(ev.getMessage())
                  .contains("success-rate/traefik FAILED")
                  .contains("canary 1.000 (n=")
                  .contains("p=");
            });
  }

  @Test
  @DisplayName("When the policy is pause, then the Rollout is paused with its weight held")
  void pausePolicy() {
    workload("held", 1.0);
    AnalysisCoordinator c = analyzer();
    canaryStep("held", "'analysis': {'action': 'pause'}");

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> rolloutNow("held").at("/spec/paused").asBoolean(false));

    assertThat(rolloutNow("held").at("/status/abort").asBoolean(false)).isFalse();
    assertThat(EngineSupport.weights(e.http("held"), 0))
        .containsExactly(entry("held-stable", 95), entry("held-canary", 5));
    assertThat(view(c, "held").orElseThrow().phase()).isEqualTo(Phase.PAUSED);
    await().atMost(Duration.ofSeconds(10)).until(() -> !events("held").isEmpty());
    assertThat(events("held"))
        .singleElement()
        .extracting(Event::getReason)
        .isEqualTo(AnalysisCoordinator.REASON_PAUSED);
  }

  @Test
  @DisplayName(
      "When no series exist for the Services, then nothing is aborted and one Event says"
          + " the analysis is inconclusive")
  void missingData() {
    AnalysisCoordinator c =
        analyzer(prometheusSource(), Leadership.always("it-a"), Duration.ofSeconds(3));
    canaryStep("ghost", "");

    await().atMost(Duration.ofSeconds(30)).until(() -> !events("ghost").isEmpty());

    assertThat(events("ghost"))
        .singleElement()
        .satisfies(
            ev -> {
              assertThat(ev.getReason()).isEqualTo(AnalysisCoordinator.REASON_INCONCLUSIVE);
              assertThat(ev.getType()).isEqualTo("Normal");
              assertThat(ev.getMessage()).contains("no data");
            });
    assertThat(view(c, "ghost").orElseThrow().phase()).isEqualTo(Phase.INCONCLUSIVE);
    assertThat(rolloutNow("ghost").at("/status/abort").asBoolean(false)).isFalse();
    assertThat(EngineSupport.weights(e.http("ghost"), 0))
        .containsExactly(entry("ghost-stable", 95), entry("ghost-canary", 5));
  }

  @Test
  @DisplayName(
      "When Prometheus is down and the user asked onInconclusive=abort, then it aborts;"
          + " by default it only reports")
  void prometheusDown() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    MetricsSource down =
        new PrometheusClient(PrometheusSettings.of(URI.create("http://127.0.0.1:" + closedPort)));
    workload("dark", 1.0);
    workload("darkstrict", 1.0);
    analyzer(down, Leadership.always("it-a"), Duration.ofSeconds(3));
    canaryStep("dark", "");
    canaryStep("darkstrict", "'analysis': {'onInconclusive': 'abort'}");

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> rolloutNow("darkstrict").at("/status/abort").asBoolean(false));
    await().atMost(Duration.ofSeconds(10)).until(() -> !events("dark").isEmpty());

    assertThat(events("dark"))
        .singleElement()
        .satisfies(
            ev -> {
              assertThat(ev.getReason()).isEqualTo(AnalysisCoordinator.REASON_INCONCLUSIVE);
              assertThat(ev.getMessage()).contains("metrics unavailable");
            });
    assertThat(rolloutNow("dark").at("/status/abort").asBoolean(false)).isFalse();
    assertThat(EngineSupport.weights(e.http("dark"), 0))
        .containsExactly(entry("dark-stable", 95), entry("dark-canary", 5));
    assertThat(EngineSupport.weights(e.http("darkstrict"), 0))
        .containsExactly(entry("darkstrict-stable", 100), entry("darkstrict-canary", 0));
  }

  @Test
  @DisplayName(
      "When two replicas run, then only the Lease holder acts, and the other takes over"
          + " when it leaves")
  void onlyTheLeaderActs() {
    KubernetesLeaderElection.Timing fast =
        new KubernetesLeaderElection.Timing(
            Duration.ofSeconds(3), Duration.ofSeconds(2), Duration.ofMillis(300));
    KubernetesLeaderElection a =
        new KubernetesLeaderElection(admin, ns, "replica-a", fast, x -> {});
    KubernetesLeaderElection b =
        new KubernetesLeaderElection(admin, ns, "replica-b", fast, x -> {});
    toClose.add(a);
    toClose.add(b);
    a.start();
    await().atMost(Duration.ofSeconds(20)).until(a::isLeader);
    b.start();
    AnalysisCoordinator ca = analyzer(prometheusSource(), a, Duration.ofSeconds(60));
    AnalysisCoordinator cb = analyzer(prometheusSource(), b, Duration.ofSeconds(60));
    workload("duo", 1.0);
    canaryStep("duo", "");

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> rolloutNow("duo").at("/status/abort").asBoolean(false));
    await().atMost(Duration.ofSeconds(10)).until(() -> !events("duo").isEmpty());

    assertThat(events("duo"))
        .singleElement()
        .satisfies(ev -> assertThat(ev.getReportingInstance()).isEqualTo("replica-a"));
    assertThat(b.isLeader()).isFalse();
    assertThat(cb.snapshot().leader()).isFalse();
    assertThat(view(cb, "duo").flatMap(AnalysisView::verdict)).isEmpty();
    assertThat(
            admin
                .leases()
                .inNamespace(ns)
                .withName(KubernetesLeaderElection.LEASE_NAME)
                .get()
                .getSpec()
                .getHolderIdentity())
        .isEqualTo("replica-a");

    a.close(); // releases the Lease
    await().atMost(Duration.ofSeconds(20)).until(b::isLeader);
    assertThat(ca.snapshot().leader()).isFalse();
    assertThat(cb.snapshot().leader()).isTrue();
  }
}
