package io.weighbridge.adapter.kubernetes;

import static io.weighbridge.adapter.kubernetes.RouteFixtures.httpRoute;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.setWeights;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.weight;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The adapter against fabric8's CRUD mock server: fast paths and error mapping. */
@EnableKubernetesMockClient(crud = true)
class KubernetesRouteClientTest {

  private static final String V1 = RouteFixtures.GROUP + "/v1";
  private static final String NS = "shop";
  private static final String LIST_PATH =
      "/apis/" + RouteFixtures.GROUP + "/v1/httproutes?resourceVersion=0";
  private static final RouteId WEB = new RouteId(RouteKind.HTTP, NS, "web");

  KubernetesMockServer server;
  KubernetesClient client;

  private final ApiCallCounter calls = new ApiCallCounter();
  private final List<KubernetesRouteClient> adapters = new ArrayList<>();
  private final List<AutoCloseable> closeLast = new ArrayList<>();
  private final AtomicInteger drains = new AtomicInteger();
  private KubernetesRouteClient routes;

  @BeforeEach
  void setUp() {
    MockGatewayApi.current().install(server);
    create(httpRoute(V1, NS, "web", Map.of("app", "web"), true));
    routes = adapter(client, KubernetesRouteClient.Settings.defaults());
  }

  /**
   * Closes the adapters only once their watches have nothing left to send. fabric8's mock server
   * (8.0.0) handles a watch's close on its event loop by waiting for the watch's send queue, while
   * a send in flight waits for that same event loop (up to 30 s): closing a watch mid-send stalls
   * the mock, and its shutdown fails after 10 s with "Unable to close MockWebServer".
   */
  @AfterEach
  void tearDown() throws Exception {
    for (KubernetesRouteClient adapter : adapters) {
      drainWatches(adapter);
    }
    for (KubernetesRouteClient adapter : adapters) {
      adapter.close();
    }
    for (AutoCloseable c : closeLast) {
      c.close();
    }
  }

  /** An adapter on {@code on}, closed by {@link #tearDown()} after its watches are drained. */
  private KubernetesRouteClient adapter(
      KubernetesClient on, KubernetesRouteClient.Settings settings) {
    var adapter = new KubernetesRouteClient(on, settings, calls);
    adapters.add(adapter);
    return adapter;
  }

  /**
   * Creates one more route where each running informer watches and waits until the informer has it.
   * The mock sends a watch's events in order, one at a time, so once the last one arrived none is
   * in flight and the watch can be closed without stalling the mock.
   */
  private void drainWatches(KubernetesRouteClient adapter) {
    for (var informer : adapter.runningInformers()) {
      RouteKind kind = informer.kind();
      String namespace = informer.namespace().isEmpty() ? NS : informer.namespace();
      String name = "drain-" + drains.incrementAndGet();
      String apiVersion = adapter.apiVersion(kind).orElseThrow();
      client
          .genericKubernetesResources(RouteFixtures.context(apiVersion, kind.kind()))
          .inNamespace(namespace)
          .resource(
              new GenericKubernetesResourceBuilder()
                  .withApiVersion(apiVersion)
                  .withKind(kind.kind())
                  .withNewMetadata()
                  .withNamespace(namespace)
                  .withName(name)
                  .endMetadata()
                  .build())
          .create();
      RouteId last = new RouteId(kind, namespace, name);
      await()
          .alias("the " + informer + " informer receives its last event")
          .until(() -> adapter.get(last).isPresent());
    }
  }

  private GenericKubernetesResource create(GenericKubernetesResource route) {
    return RouteFixtures.create(client, route);
  }

  /** The last PATCH the mock server received. */
  private io.fabric8.mockwebserver.http.RecordedRequest lastPatch() throws InterruptedException {
    io.fabric8.mockwebserver.http.RecordedRequest last = null;
    for (int i = server.getRequestCount(); i > 0; i--) {
      var request = server.takeRequest(1, java.util.concurrent.TimeUnit.SECONDS);
      if (request != null && request.getMethod().equals("PATCH")) {
        last = request;
      }
    }
    assertThat(last).as("a PATCH was sent").isNotNull();
    return last;
  }

  private GenericKubernetesResource thirdPartySetsWeights(String name, int stable, int canary) {
    String patch =
        "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/0/weight\",\"value\":"
            + stable
            + "},{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":"
            + canary
            + "}]";
    return client
        .genericKubernetesResources(RouteFixtures.context(V1, "HTTPRoute"))
        .inNamespace(NS)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON), patch);
  }

  @Test
  @DisplayName("When the cluster serves several versions, then each kind reports its best one")
  void apiVersions() {
    assertThat(routes.apiVersion(RouteKind.HTTP)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.GRPC)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.TLS)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.TCP)).contains(RouteFixtures.GROUP + "/v1alpha2");
  }

  @Test
  @DisplayName("When routes are read, then they come from the cache without API requests")
  void readsFromCache() {
    create(httpRoute(V1, NS, "api", Map.of("app", "api"), false));
    create(httpRoute(V1, "other", "web", Map.of("app", "web"), false));
    await().until(() -> routes.select(RouteKind.HTTP, NS, Map.of()).size() == 2);
    long before = calls.total();

    ObservedRoute web = routes.get(WEB).orElseThrow();
    List<ObservedRoute> labelled = routes.select(RouteKind.HTTP, NS, Map.of("app", "web"));
    List<ObservedRoute> all = routes.select(RouteKind.HTTP, NS, Map.of());

    assertThat(web.apiVersion()).isEqualTo(V1);
    assertThat(web.resourceVersion()).isNotBlank();
    assertThat(weight(web, 0)).isEqualTo(100);
    assertThat(labelled).extracting(r -> r.id().name()).containsExactly("web");
    assertThat(all).extracting(r -> r.id().name()).containsExactly("api", "web");
    assertThat(routes.get(new RouteId(RouteKind.HTTP, NS, "missing"))).isEmpty();
    assertThat(calls.total()).isEqualTo(before);
  }

  @Test
  @DisplayName("When the planner has nothing to change, then no request is sent")
  void noOpPatch() {
    routes.get(WEB); // warm the cache
    long before = calls.total();
    AtomicInteger plans = new AtomicInteger();

    ObservedRoute result =
        routes.patch(
            WEB,
            current -> {
              plans.incrementAndGet();
              return List.of();
            });

    assertThat(plans).hasValue(1);
    assertThat(weight(result, 0)).isEqualTo(100);
    assertThat(calls.total()).isEqualTo(before);
  }

  @Test
  @DisplayName("When weights change, then one JSON patch with a resourceVersion test is sent")
  void realPatch() throws Exception {
    String rv = routes.get(WEB).orElseThrow().resourceVersion();
    long before = calls.total();

    ObservedRoute result = routes.patch(WEB, current -> setWeights(90, 10));

    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(1);
    assertThat(calls.total()).isEqualTo(before + 1);
    assertThat(weight(result, 0)).isEqualTo(90);
    assertThat(weight(result, 1)).isEqualTo(10);
    assertThat(result.resourceVersion()).isNotEqualTo(rv);
    assertThat(weight(routes.get(WEB).orElseThrow(), 1))
        .as("an immediate get sees our write")
        .isEqualTo(10);
    var request = lastPatch();
    assertThat(request.getPath()).endsWith("?fieldValidation=Strict");
    assertThat(request.getHeader("Content-Type")).startsWith("application/json-patch+json");
    // The mock's dispatcher consumes the body; KubernetesRouteClientIT proves the precondition.
  }

  @Test
  @DisplayName("When a route has fields no Java model knows, then our patch keeps them")
  void unknownFieldsSurvive() {
    create(
        RouteFixtures.withSpecField(
            httpRoute(V1, NS, "extended", Map.of(), true),
            "x-acme-madeUp",
            RouteFixtures.json("{\"keep\":[1,2,{\"deep\":true}]}")));
    RouteId id = new RouteId(RouteKind.HTTP, NS, "extended");

    assertThat(
            routes.get(id).orElseThrow().object().at("/spec/x-acme-madeUp/keep/2/deep").asBoolean())
        .isTrue();
    routes.patch(id, current -> setWeights(50, 50));

    JsonNode stored =
        RouteFixtures.toJson(
            client
                .genericKubernetesResources(RouteFixtures.context(V1, "HTTPRoute"))
                .inNamespace(NS)
                .withName("extended")
                .get());
    assertThat(stored.at("/spec/rules/0/backendRefs/1/weight").asInt()).isEqualTo(50);
    assertThat(stored.at("/spec/x-acme-madeUp"))
        .isEqualTo(RouteFixtures.json("{\"keep\":[1,2,{\"deep\":true}]}"));
    assertThat(stored.at("/spec/rules/0/filters/0/type").asText()).isEqualTo("CORS");
    assertThat(stored.at("/spec/rules/0/filters/0/cors/allowOrigins/0").asText())
        .isEqualTo("https://shop.example.com");
  }

  @Test
  @DisplayName("When our precondition fails once, then we re-read, plan again and succeed")
  void conflictThenSuccess() {
    routes.get(WEB);
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(
            422,
            MockGatewayApi.failure(
                422, "Invalid", "the server rejected our request due to an error in our request"))
        .once();
    AtomicInteger plans = new AtomicInteger();

    ObservedRoute result =
        routes.patch(
            WEB,
            current -> {
              plans.incrementAndGet();
              return setWeights(80, 20);
            });

    assertThat(plans).hasValue(2);
    assertThat(weight(result, 1)).isEqualTo(20);
    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(2);
    assertThat(calls.count(Verb.GET, "httproutes")).isEqualTo(1);
  }

  @Test
  @DisplayName(
      "When a slow first attempt used up the retry budget, then a conflict still gets a second"
          + " attempt (issue 11)")
  void conflictAfterSpentBudgetGetsASecondAttempt() {
    // A zero budget stands for a first PATCH that took longer than the whole budget.
    KubernetesRouteClient.Settings d = KubernetesRouteClient.Settings.defaults();
    KubernetesRouteClient spent =
        adapter(
            client,
            new KubernetesRouteClient.Settings(
                d.scope(),
                d.initialSyncTimeout(),
                d.rediscoveryInterval(),
                d.maxPatchAttempts(),
                Duration.ZERO,
                d.serviceCacheTtl(),
                d.schemaCacheTtl()));
    spent.get(WEB);
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(409, MockGatewayApi.failure(409, "Conflict", "the object has been modified"))
        .once();

    ObservedRoute result = spent.patch(WEB, current -> setWeights(80, 20));

    assertThat(weight(result, 1)).isEqualTo(20);
    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(2);
  }

  @Test
  @DisplayName("When the route keeps changing, then we give up after the attempt bound")
  void conflictExhausted() {
    routes.get(WEB);
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(409, MockGatewayApi.failure(409, "Conflict", "the object has been modified"))
        .always();

    assertThatThrownBy(() -> routes.patch(WEB, current -> setWeights(80, 20)))
        .isInstanceOf(ConflictException.class)
        .hasMessageContaining("HTTPRoute shop/web")
        .hasMessageContaining("5 attempt(s)");
    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(5);
  }

  @Test
  @DisplayName("When validation refuses the patch, then the server's words are reported, no retry")
  void validationRefusal() {
    routes.get(WEB);
    String said =
        "HTTPRoute.gateway.networking.k8s.io \"web\" is invalid: spec.rules[0].backendRefs[1].weight:"
            + " Invalid value: 1000001: spec.rules[0].backendRefs[1].weight in body should be less"
            + " than or equal to 1000000";
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(422, MockGatewayApi.failure(422, "Invalid", said))
        .once();
    AtomicInteger plans = new AtomicInteger();

    assertThatThrownBy(
            () ->
                routes.patch(
                    WEB,
                    current -> {
                      plans.incrementAndGet();
                      return setWeights(0, 1000001);
                    }))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining("HTTPRoute shop/web")
        .hasMessageContaining(said);
    assertThat(plans).hasValue(1);
    assertThat(calls.count(Verb.PATCH)).isEqualTo(1);
  }

  @Test
  @DisplayName("When an admission webhook denies the patch, then its message is reported verbatim")
  void webhookRefusal() {
    routes.get(WEB);
    String said =
        "admission webhook \"linkerd-policy-validator.linkerd.io\" denied the request: unsupported"
            + " filter CORS";
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(403, MockGatewayApi.failure(403, "", said))
        .once();

    assertThatThrownBy(() -> routes.patch(WEB, current -> setWeights(80, 20)))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining(said)
        .hasMessageNotContaining("ServiceAccount");
  }

  @Test
  @DisplayName("When RBAC forbids the patch, then the message names the missing verb and resource")
  void rbacRefusal() {
    routes.get(WEB);
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(
            403,
            MockGatewayApi.failure(
                403,
                "Forbidden",
                "httproutes.gateway.networking.k8s.io \"web\" is forbidden: User"
                    + " \"system:serviceaccount:argo-rollouts:weighbridge\" cannot patch resource"
                    + " \"httproutes\" in API group \"gateway.networking.k8s.io\" in the namespace"
                    + " \"shop\""))
        .once();

    assertThatThrownBy(() -> routes.patch(WEB, current -> setWeights(80, 20)))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining("ServiceAccount may not patch httproutes.gateway.networking.k8s.io")
        .hasMessageContaining("namespace \"shop\"");
  }

  @Test
  @DisplayName("When the API server fails, then the caller learns it is unavailable")
  void serverError() {
    server
        .expect()
        .patch()
        .withPath(MockGatewayApi.patchPath("v1", "HTTPRoute", NS, "web"))
        .andReturn(503, MockGatewayApi.failure(503, "ServiceUnavailable", "etcd is down"))
        .always();
    // fabric8 itself retries 5xx; without retries the test need not wait for them.
    var settings = KubernetesClients.Settings.defaults();
    KubernetesClient noRetries =
        KubernetesClients.create(
            client.getConfiguration(),
            new KubernetesClients.Settings(
                settings.kubeconfig(),
                settings.context(),
                settings.requestTimeout(),
                settings.connectTimeout(),
                0,
                settings.retryBackoff(),
                settings.maxConcurrentRequestsPerHost()));
    closeLast.add(noRetries);
    var adapter = adapter(noRetries, KubernetesRouteClient.Settings.defaults());

    assertThatThrownBy(() -> adapter.patch(WEB, current -> setWeights(80, 20)))
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("HTTP 503")
        .hasMessageContaining("etcd is down");
  }

  @Test
  @DisplayName("When the route does not exist, then patch says how to fix it")
  void notFound() {
    RouteId missing = new RouteId(RouteKind.HTTP, NS, "missing");

    assertThatThrownBy(() -> routes.patch(missing, current -> setWeights(80, 20)))
        .isInstanceOf(NotFoundException.class)
        .hasMessage(
            "HTTPRoute shop/missing not found: create it or fix the Rollout's plugin config");
    assertThat(calls.count(Verb.PATCH)).isZero();
  }

  @Test
  @DisplayName("When a kind is not served, then reads are empty, writes say so, discovery is rare")
  void kindNotServed() {
    server.clearExpectations();
    new MockGatewayApi().serve("v1", "HTTPRoute").install(server);
    var onlyHttp = adapter(client, KubernetesRouteClient.Settings.defaults());
    RouteId tcp = new RouteId(RouteKind.TCP, NS, "db");

    assertThat(onlyHttp.get(tcp)).isEmpty();
    long discoveries = calls.count(Verb.GET, "discovery");
    assertThat(onlyHttp.select(RouteKind.TCP, NS, Map.of())).isEmpty();
    assertThat(onlyHttp.apiVersion(RouteKind.TCP)).isEmpty();
    assertThatThrownBy(() -> onlyHttp.patch(tcp, current -> List.of()))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("serves no TCPRoute version")
        .hasMessageContaining("experimental channel");
    assertThat(calls.count(Verb.GET, "discovery"))
        .as("no rediscovery within the interval")
        .isEqualTo(discoveries);
  }

  @Test
  @DisplayName("When someone else changes a watched route, then the listener gets the new state")
  void watchDeliversChanges() throws Exception {
    List<ObservedRoute> seen = new CopyOnWriteArrayList<>();
    AutoCloseable handle = routes.watch(WEB, seen::add);
    try {
      thirdPartySetsWeights("web", 70, 30);

      await().until(() -> !seen.isEmpty() && weight(seen.get(seen.size() - 1), 1) == 30);
      assertThat(seen).allMatch(r -> r.id().equals(WEB));
    } finally {
      handle.close();
    }
  }

  @Test
  @DisplayName("When a watch is closed, then its listener hears nothing more")
  void closedWatch() throws Exception {
    create(httpRoute(V1, NS, "sentinel", Map.of(), false));
    RouteId sentinel = new RouteId(RouteKind.HTTP, NS, "sentinel");
    List<ObservedRoute> closedSeen = new CopyOnWriteArrayList<>();
    List<ObservedRoute> sentinelSeen = new CopyOnWriteArrayList<>();
    AutoCloseable closed = routes.watch(WEB, closedSeen::add);
    AutoCloseable open = routes.watch(sentinel, sentinelSeen::add);
    try {
      closed.close();
      closed.close(); // idempotent

      thirdPartySetsWeights("web", 60, 40);
      thirdPartySetsWeights("sentinel", 60, 40);

      await().until(() -> !sentinelSeen.isEmpty());
      assertThat(closedSeen).isEmpty();
    } finally {
      open.close();
    }
  }

  @Test
  @DisplayName(
      "When a listener is slow, then others still hear their changes and it gets the newest")
  void slowListenerDoesNotBlock() throws Exception {
    create(httpRoute(V1, NS, "api", Map.of(), false));
    RouteId api = new RouteId(RouteKind.HTTP, NS, "api");
    CountDownLatch release = new CountDownLatch(1);
    List<ObservedRoute> slowSeen = new CopyOnWriteArrayList<>();
    List<ObservedRoute> fastSeen = new CopyOnWriteArrayList<>();
    AutoCloseable slow =
        routes.watch(
            WEB,
            r -> {
              slowSeen.add(r);
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    AutoCloseable fast = routes.watch(api, fastSeen::add);
    try {
      thirdPartySetsWeights("web", 60, 40);
      await().until(() -> slowSeen.size() == 1);
      thirdPartySetsWeights("web", 55, 45); // both wait behind the blocked call
      thirdPartySetsWeights("web", 50, 50);
      thirdPartySetsWeights("api", 60, 40);

      await().until(() -> !fastSeen.isEmpty());
      assertThat(slowSeen).hasSize(1);

      release.countDown();
      await().until(() -> weight(slowSeen.get(slowSeen.size() - 1), 1) == 50);
      assertThat(slowSeen).as("the backlog is collapsed to the newest state").hasSizeLessThan(4);
    } finally {
      release.countDown();
      slow.close();
      fast.close();
    }
  }

  @Test
  @DisplayName("When a Service is read twice, then the API server is asked once")
  void serviceIsCached() {
    client
        .services()
        .inNamespace(NS)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("canary")
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .addNewPort()
                .withPort(80)
                .endPort()
                .endSpec()
                .build())
        .create();

    JsonNode first = routes.service(NS, "canary").orElseThrow();
    JsonNode second = routes.service(NS, "canary").orElseThrow();

    assertThat(first.at("/spec/ports/0/port").asInt()).isEqualTo(80);
    assertThat(second).isEqualTo(first);
    assertThat(calls.count(Verb.GET, "services")).isEqualTo(1);
  }

  @Test
  @DisplayName("When a Service does not exist, then each read asks again (absence is not cached)")
  void absentServiceNotCached() {
    assertThat(routes.service(NS, "nope")).isEmpty();
    assertThat(routes.service(NS, "nope")).isEmpty();
    assertThat(calls.count(Verb.GET, "services")).isEqualTo(2);
  }

  @Test
  @DisplayName("When informers are per namespace, then reads still come from the cache")
  void namespaceScope() {
    create(httpRoute(V1, "other", "web", Map.of("app", "web"), false));
    var scoped =
        adapter(
            client,
            KubernetesRouteClient.Settings.defaults()
                .withScope(KubernetesRouteClient.InformerScope.NAMESPACE));
    assertThat(scoped.get(WEB)).isPresent();
    assertThat(scoped.select(RouteKind.HTTP, "other", Map.of("app", "web")))
        .extracting(r -> r.id().namespace())
        .containsExactly("other");
    long before = calls.total();
    scoped.patch(new RouteId(RouteKind.HTTP, "other", "web"), current -> setWeights(1, 99));
    assertThat(calls.total()).isEqualTo(before + 1);
  }

  @Test
  @DisplayName("When the planner returns something that is not a patch operation, then it is a bug")
  void invalidPlan() {
    assertThatThrownBy(
            () -> routes.patch(WEB, current -> List.of(RouteFixtures.json("{\"path\":\"/x\"}"))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(calls.count(Verb.PATCH)).isZero();
  }

  @Test
  @DisplayName("When RBAC forbids listing routes, then the first read names list/watch")
  void listForbidden() throws Exception {
    var fresh = adapter(client, KubernetesRouteClient.Settings.defaults());
    server
        .expect()
        .get()
        .withPath(LIST_PATH)
        .andReturn(
            403,
            MockGatewayApi.failure(
                403,
                "Forbidden",
                "httproutes.gateway.networking.k8s.io is forbidden: User"
                    + " \"system:serviceaccount:argo-rollouts:weighbridge\" cannot list resource"
                    + " \"httproutes\" in API group \"gateway.networking.k8s.io\" at the cluster"
                    + " scope"))
        .once();

    assertThatThrownBy(() -> fresh.get(new RouteId(RouteKind.HTTP, NS, "web")))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining(
            "may not list/watch httproutes.gateway.networking.k8s.io cluster-wide")
        .hasMessageContaining("ClusterRole");
    assertThat(fresh.get(WEB)).as("the next call starts the informer again").isPresent();
  }

  @Test
  @DisplayName("When the engine asks which fields are served, then the CRD schema answers, cached")
  void servesField() {
    client
        .genericKubernetesResources(
            new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
                .withGroup("apiextensions.k8s.io")
                .withVersion("v1")
                .withKind("CustomResourceDefinition")
                .withPlural("customresourcedefinitions")
                .withNamespaced(false)
                .build())
        .resource(
            client
                .getKubernetesSerialization()
                .unmarshal(
                    """
                    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                     "metadata": {"name": "httproutes.gateway.networking.k8s.io"},
                     "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                      "names": {"kind": "HTTPRoute", "plural": "httproutes"},
                      "versions": [{"name": "v1", "served": true, "storage": true,
                       "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                         "rules": {"type": "array", "items": {"type": "object", "properties": {
                          "name": {"type": "string"}}}}}}}}}}]}}
                    """,
                    GenericKubernetesResource.class))
        .create();

    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].name")).isTrue();
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].filters[].requestMirror.percent"))
        .isFalse();
    assertThat(calls.count(Verb.GET, "customresourcedefinitions")).isEqualTo(1);
  }

  @Test
  @DisplayName("When the API server cannot be reached, then the caller learns it is unavailable")
  void unreachable() throws Exception {
    int closedPort;
    try (var socket = new java.net.ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    var d = KubernetesClients.Settings.defaults();
    try (KubernetesClient nowhere =
            KubernetesClients.create(
                new io.fabric8.kubernetes.client.ConfigBuilder(client.getConfiguration())
                    .withMasterUrl("https://127.0.0.1:" + closedPort)
                    .build(),
                new KubernetesClients.Settings(
                    d.kubeconfig(),
                    d.context(),
                    d.requestTimeout(),
                    d.connectTimeout(),
                    0,
                    d.retryBackoff(),
                    d.maxConcurrentRequestsPerHost()));
        var adapter =
            new KubernetesRouteClient(nowhere, KubernetesRouteClient.Settings.defaults(), calls)) {
      assertThatThrownBy(() -> adapter.get(WEB))
          .isInstanceOf(UnavailableException.class)
          .hasMessageContaining("no response")
          .hasMessageContaining("Argo will retry");
    }
  }
}
