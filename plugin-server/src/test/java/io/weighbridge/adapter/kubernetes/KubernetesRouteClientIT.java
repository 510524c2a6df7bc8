package io.weighbridge.adapter.kubernetes;

import static io.weighbridge.adapter.kubernetes.RouteFixtures.create;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.httpRoute;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.setWeights;
import static io.weighbridge.adapter.kubernetes.RouteFixtures.weight;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient.InformerScope;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient.Settings;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The adapter against a real kube-apiserver with Gateway API v1.5.1 experimental installed. */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class KubernetesRouteClientIT {

  private static final String V1 = RouteFixtures.GROUP + "/v1";

  private final ApiCallCounter calls = new ApiCallCounter();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private KubernetesClient admin;
  private String ns;
  private KubernetesRouteClient routes;
  private RouteId web;

  @BeforeEach
  void setUp(KubernetesClient client, TestNamespace namespace) {
    admin = client;
    ns = namespace.name();
    web = new RouteId(RouteKind.HTTP, ns, "web");
    create(admin, httpRoute(V1, ns, "web", Map.of("app", "web"), true));
    routes = adapter(admin, Settings.defaults());
  }

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  private KubernetesRouteClient adapter(KubernetesClient client, Settings settings) {
    KubernetesClient counted = KubernetesClients.counted(client, calls);
    toClose.add(counted);
    KubernetesRouteClient adapter = new KubernetesRouteClient(counted, settings);
    toClose.add(adapter);
    return adapter;
  }

  private GenericKubernetesResource stored(String name) {
    return admin
        .genericKubernetesResources(RouteFixtures.context(V1, "HTTPRoute"))
        .inNamespace(ns)
        .withName(name)
        .get();
  }

  private void thirdPartyPatch(String name, String jsonPatch) {
    admin
        .genericKubernetesResources(RouteFixtures.context(V1, "HTTPRoute"))
        .inNamespace(ns)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON), jsonPatch);
  }

  @Test
  @DisplayName("When Gateway API v1.5.1 is installed, then HTTP/GRPC/TLS use v1 and TCP v1alpha2")
  void discovery() {
    assertThat(routes.apiVersion(RouteKind.HTTP)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.GRPC)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.TLS)).contains(V1);
    assertThat(routes.apiVersion(RouteKind.TCP)).contains(RouteFixtures.GROUP + "/v1alpha2");
  }

  @Test
  @DisplayName("When routes are read, then they come from the informer; only a miss costs one GET")
  void readsFromCache() {
    create(admin, httpRoute(V1, ns, "api", Map.of("app", "api"), false));
    await().until(() -> routes.select(RouteKind.HTTP, ns, Map.of()).size() == 2);
    long before = calls.total();

    ObservedRoute route = routes.get(web).orElseThrow();
    List<ObservedRoute> labelled = routes.select(RouteKind.HTTP, ns, Map.of("app", "web"));

    assertThat(route.apiVersion()).isEqualTo(V1);
    assertThat(route.generation()).isEqualTo(1);
    assertThat(route.resourceVersion()).isEqualTo(stored("web").getMetadata().getResourceVersion());
    assertThat(labelled).extracting(r -> r.id().name()).containsExactly("web");
    assertThat(calls.total()).isEqualTo(before);

    // A miss is confirmed with exactly one GET before the route is called missing.
    assertThat(routes.get(new RouteId(RouteKind.HTTP, ns, "missing"))).isEmpty();
    assertThat(calls.count(Verb.GET, "httproutes")).isEqualTo(1);
    assertThat(calls.total()).isEqualTo(before + 1);
  }

  @Test
  @DisplayName("When the planner changes nothing, then no request reaches the API server")
  void noOpPatch() {
    routes.get(web);
    long before = calls.total();

    ObservedRoute result = routes.patch(web, current -> List.of());

    assertThat(calls.total()).isEqualTo(before);
    assertThat(result.resourceVersion())
        .isEqualTo(stored("web").getMetadata().getResourceVersion());
  }

  @Test
  @DisplayName("When weights change, then exactly one PATCH is sent and a get sees it at once")
  void realWrite() {
    routes.get(web);
    long before = calls.total();

    ObservedRoute result = routes.patch(web, current -> setWeights(90, 10));

    assertThat(calls.total()).isEqualTo(before + 1);
    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(1);
    assertThat(weight(result, 1)).isEqualTo(10);
    assertThat(result.generation()).isEqualTo(2);
    assertThat(weight(routes.get(web).orElseThrow(), 1)).isEqualTo(10);
    assertThat(weight(stored("web"), 1)).isEqualTo(10);
  }

  @Test
  @DisplayName(
      "When routes are read and written, then the engine never sees managedFields; the API server"
          + " keeps them")
  void managedFieldsStayOnTheServer() {
    assertThat(stored("web").getMetadata().getManagedFields()).isNotEmpty();
    await().until(() -> routes.select(RouteKind.HTTP, ns, Map.of()).size() == 1);

    ObservedRoute cached = routes.get(web).orElseThrow();
    ObservedRoute written = routes.patch(web, current -> setWeights(70, 30));
    RouteId fresh = new RouteId(RouteKind.HTTP, ns, "fresh");
    create(admin, httpRoute(V1, ns, "fresh", Map.of("app", "fresh"), false));
    ObservedRoute fetched = routes.get(fresh).orElseThrow(); // informer or its one GET

    for (ObservedRoute route : List.of(cached, written, fetched)) {
      assertThat(route.object().path("metadata").has("managedFields")).isFalse();
      assertThat(route.object().path("metadata").path("name").asText()).isNotEmpty();
    }
    assertThat(weight(written, 1)).isEqualTo(30);
    assertThat(stored("web").getMetadata().getManagedFields()).isNotEmpty();
  }

  @Test
  @DisplayName("When another writer changes the route between plan and write, then we plan again")
  void conflictIsRetried() {
    routes.get(web);
    AtomicInteger plans = new AtomicInteger();

    ObservedRoute result =
        routes.patch(
            web,
            current -> {
              if (plans.incrementAndGet() == 1) {
                thirdPartyPatch(
                    "web",
                    "[{\"op\":\"add\",\"path\":\"/metadata/labels/touched\",\"value\":\"yes\"}]");
              }
              return setWeights(70, 30);
            });

    assertThat(plans).hasValue(2);
    assertThat(calls.count(Verb.PATCH, "httproutes")).isEqualTo(2);
    assertThat(calls.count(Verb.GET, "httproutes")).isEqualTo(1);
    GenericKubernetesResource stored = stored("web");
    assertThat(weight(stored, 1)).isEqualTo(30);
    assertThat(stored.getMetadata().getLabels()).containsEntry("touched", "yes");
    assertThat(result.resourceVersion()).isEqualTo(stored.getMetadata().getResourceVersion());
  }

  @Test
  @DisplayName("When one of the planner's own test ops fails, then it is planned again too")
  void plannerGuardIsRetried() {
    AtomicInteger plans = new AtomicInteger();

    routes.patch(
        web,
        current -> {
          String expected = plans.incrementAndGet() == 1 ? "not-canary" : "canary";
          List<JsonNode> ops = new ArrayList<>();
          ops.add(
              JsonNodeFactory.instance
                  .objectNode()
                  .put("op", "test")
                  .put("path", "/spec/rules/0/backendRefs/1/name")
                  .put("value", expected));
          ops.addAll(setWeights(60, 40));
          return ops;
        });

    assertThat(plans).hasValue(2);
    assertThat(weight(stored("web"), 1)).isEqualTo(40);
  }

  @Test
  @DisplayName(
      "When a route has a CORS filter and fields our models lack, then our patch keeps them")
  void fieldsSurvive() {
    create(admin, RouteFixtures.extendedHttpRoute(V1, ns, "extended"));
    JsonNode before = RouteFixtures.toJson(stored("extended"));
    RouteId id = new RouteId(RouteKind.HTTP, ns, "extended");

    routes.patch(id, current -> setWeights(50, 50));

    JsonNode after = RouteFixtures.toJson(stored("extended"));
    assertThat(after.at("/spec/rules/0/backendRefs/1/weight").asInt()).isEqualTo(50);
    assertThat(after.at("/spec/rules/0/filters")).isEqualTo(before.at("/spec/rules/0/filters"));
    assertThat(after.at("/spec/rules/0/filters/0/cors/allowOrigins/0").asText())
        .isEqualTo("https://shop.example.com");
    assertThat(after.at("/spec/rules/0/sessionPersistence/idleTimeout").asText()).isEqualTo("30m");
    assertThat(after.at("/spec/rules/0/name").asText()).isEqualTo("main");
    assertThat(routes.get(id).orElseThrow().object().at("/spec/rules/0/sessionPersistence"))
        .isEqualTo(after.at("/spec/rules/0/sessionPersistence"));
  }

  @Test
  @DisplayName("When someone else changes a watched route, then the listener hears it")
  void watchSeesThirdParty() throws Exception {
    List<ObservedRoute> seen = new CopyOnWriteArrayList<>();
    AutoCloseable handle = routes.watch(web, seen::add);
    try {
      thirdPartyPatch(
          "web",
          "[{\"op\":\"replace\",\"path\":\"/spec/rules/0/backendRefs/1/weight\",\"value\":7}]");

      await().until(() -> seen.stream().anyMatch(r -> weight(r, 1) == 7));
    } finally {
      handle.close();
    }
  }

  @Test
  @DisplayName("When CRD validation refuses the patch, then its words are reported and not retried")
  void validationRefusal() {
    AtomicInteger plans = new AtomicInteger();

    assertThatThrownBy(
            () ->
                routes.patch(
                    web,
                    current -> {
                      plans.incrementAndGet();
                      return setWeights(0, 1000001);
                    }))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining(web.toString())
        .hasMessageContaining("HTTP 422")
        .hasMessageContaining("spec.rules[0].backendRefs[1].weight")
        .hasMessageContaining("less than or equal to 1000000");
    assertThat(plans).hasValue(1);
    assertThat(calls.count(Verb.PATCH)).isEqualTo(1);
    assertThat(weight(stored("web"), 1)).isZero();
  }

  @Test
  @DisplayName("When the planner adds a field the schema lacks, then strict validation refuses it")
  void strictFieldValidation() {
    assertThatThrownBy(
            () ->
                routes.patch(
                    web,
                    current ->
                        List.of(
                            JsonNodeFactory.instance
                                .objectNode()
                                .put("op", "add")
                                .put("path", "/spec/rules/0/percentMirrored")
                                .put("value", 5))))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining("unknown field")
        .hasMessageContaining("percentMirrored");
  }

  @Test
  @DisplayName("When the route does not exist, then patch says so and how to fix it")
  void notFound() {
    RouteId missing = new RouteId(RouteKind.HTTP, ns, "missing");

    assertThatThrownBy(() -> routes.patch(missing, current -> setWeights(1, 99)))
        .isInstanceOf(NotFoundException.class)
        .hasMessage(
            "HTTPRoute " + ns + "/missing not found: create it or fix the Rollout's plugin config");
    assertThat(calls.count(Verb.PATCH)).isZero();
  }

  @Test
  @DisplayName("When the engine asks about optional fields, then the served schema answers")
  void servesField() {
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].name")).isTrue();
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].filters[].requestMirror.percent"))
        .isTrue();
    assertThat(routes.servesField(RouteKind.HTTP, "spec.rules[].percentMirrored")).isFalse();
    assertThat(routes.servesField(RouteKind.GRPC, "spec.rules[].name")).isTrue();
    assertThat(calls.count(Verb.GET, "customresourcedefinitions")).isEqualTo(2);
  }

  @Test
  @DisplayName("When a Service exists, then it is read as JSON")
  void service() {
    admin
        .services()
        .inNamespace(ns)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("canary")
                .endMetadata()
                .withNewSpec()
                .addNewPort()
                .withPort(8080)
                .endPort()
                .endSpec()
                .build())
        .create();

    assertThat(routes.service(ns, "canary").orElseThrow().at("/spec/ports/0/port").asInt())
        .isEqualTo(8080);
    assertThat(routes.service(ns, "absent")).isEmpty();
  }

  @Test
  @DisplayName("When RBAC lacks list/watch, then the first read names what to grant")
  void rbacWithoutList(KubeApiServer server) {
    KubernetesClient sa = serviceAccountClient(server, "no-rights");
    KubernetesRouteClient restricted = adapter(sa, Settings.defaults());

    assertThatThrownBy(() -> restricted.get(web))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining("may not list/watch httproutes.gateway.networking.k8s.io")
        .hasMessageContaining("cluster-wide")
        .hasMessageContaining("system:serviceaccount:" + ns + ":no-rights");
  }

  @Test
  @DisplayName("When RBAC allows reading but not patching, then the write names the missing verb")
  void rbacWithoutPatch(KubeApiServer server) {
    String name = "weighbridge-it-read-" + ns;
    admin
        .rbac()
        .clusterRoles()
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withRules(
                    new PolicyRuleBuilder()
                        .withApiGroups(RouteFixtures.GROUP)
                        .withResources("httproutes")
                        .withVerbs("get", "list", "watch")
                        .build())
                .build())
        .create();
    admin
        .rbac()
        .clusterRoleBindings()
        .resource(
            new ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", name)
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("reader")
                .withNamespace(ns)
                .endSubject()
                .build())
        .create();
    toClose.add(
        () -> {
          admin.rbac().clusterRoleBindings().withName(name).delete();
          admin.rbac().clusterRoles().withName(name).delete();
        });
    KubernetesRouteClient reader =
        adapter(serviceAccountClient(server, "reader"), Settings.defaults());

    await().ignoreExceptions().until(() -> reader.get(web).isPresent());
    assertThatThrownBy(() -> reader.patch(web, current -> setWeights(80, 20)))
        .isInstanceOf(RejectedException.class)
        .hasMessageContaining(
            "may not patch httproutes.gateway.networking.k8s.io in namespace \"" + ns + "\"")
        .hasMessageContaining("Role");
  }

  @Test
  @DisplayName("When informers are per namespace, then a namespaced Role is enough")
  void namespacedScopeWithRole(KubeApiServer server) {
    admin
        .rbac()
        .roles()
        .inNamespace(ns)
        .resource(
            new RoleBuilder()
                .withNewMetadata()
                .withName("weighbridge")
                .endMetadata()
                .withRules(
                    new PolicyRuleBuilder()
                        .withApiGroups(RouteFixtures.GROUP)
                        .withResources("httproutes")
                        .withVerbs("get", "list", "watch", "patch")
                        .build())
                .build())
        .create();
    admin
        .rbac()
        .roleBindings()
        .inNamespace(ns)
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName("weighbridge")
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "Role", "weighbridge")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("plugin")
                .withNamespace(ns)
                .endSubject()
                .build())
        .create();
    KubernetesRouteClient scoped =
        adapter(
            serviceAccountClient(server, "plugin"),
            Settings.defaults().withScope(InformerScope.NAMESPACE));

    await().ignoreExceptions().until(() -> scoped.get(web).isPresent());
    ObservedRoute result = scoped.patch(web, current -> setWeights(95, 5));

    assertThat(weight(result, 1)).isEqualTo(5);
  }

  @Test
  @DisplayName("When the client is built from a kubeconfig file, then the adapter works through it")
  void clientFromKubeconfig(KubeApiServer server) {
    KubernetesClient fromFile =
        KubernetesClients.create(
            KubernetesClients.Settings.defaults().withKubeconfig(server.kubeconfig()));
    toClose.add(fromFile);
    KubernetesRouteClient viaFile = adapter(fromFile, Settings.defaults());

    assertThat(viaFile.get(web)).isPresent();
  }

  private KubernetesClient serviceAccountClient(KubeApiServer server, String name) {
    KubernetesClient client =
        new KubernetesClientBuilder().withConfig(server.serviceAccountConfig(ns, name)).build();
    toClose.add(client);
    return client;
  }
}
