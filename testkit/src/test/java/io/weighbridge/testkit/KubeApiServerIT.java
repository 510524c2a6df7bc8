package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Proves the test kit against the real kube-apiserver and etcd it builds. */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental", argoRollouts = true)
class KubeApiServerIT {
  private static final String GATEWAY_V1 = "gateway.networking.k8s.io/v1";

  @Test
  @DisplayName(
      "When the server is up, then it reports the pinned Kubernetes version to every client")
  void reportsPinnedVersion(KubeApiServer server, KubernetesClient client) throws Exception {
    assertThat(client.getKubernetesVersion().getGitVersion()).isEqualTo("v1.34.1");
    assertThat(server.url().toString()).startsWith("https://127.0.0.1:");

    Config fromFile = Config.fromKubeconfig(Files.readString(server.kubeconfig()));
    try (KubernetesClient viaKubeconfig =
        new KubernetesClientBuilder().withConfig(fromFile).build()) {
      assertThat(viaKubeconfig.namespaces().withName("kube-system").get()).isNotNull();
    }
  }

  @Test
  @DisplayName(
      "When Gateway API v1.5.1 is installed, then HTTPRoute and GRPCRoute are served as v1")
  void latestGatewayApiServesV1Routes(KubernetesClient client) {
    assertThat(resources(client, GATEWAY_V1))
        .contains("httproutes", "grpcroutes", "gateways", "gatewayclasses");
    assertThat(resources(client, "gateway.networking.k8s.io/v1alpha2"))
        .contains("tcproutes", "udproutes");
    assertThat(resources(client, "argoproj.io/v1alpha1")).contains("rollouts", "analysisruns");
  }

  @Test
  @DisplayName(
      "When an HTTPRoute has a field fabric8's typed model lacks, then it round-trips through the server")
  void httpRouteKeepsFieldsUnknownToTypedModel(KubernetesClient client, TestNamespace namespace) {
    // sessionPersistence.idleTimeout is in the v1.5.1 experimental schema but not in fabric8
    // 8.0.0's
    // gatewayapi SessionPersistence class: only a generic resource keeps it.
    GenericKubernetesResource route =
        Serialization.unmarshal(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: shop
            spec:
              parentRefs:
              - name: edge
              rules:
              - backendRefs:
                - name: shop-stable
                  port: 80
                  weight: 90
                - name: shop-canary
                  port: 80
                  weight: 10
                sessionPersistence:
                  sessionName: shop-session
                  idleTimeout: 30m
            """,
            GenericKubernetesResource.class);

    client
        .genericKubernetesResources(GATEWAY_V1, "HTTPRoute")
        .inNamespace(namespace.name())
        .resource(route)
        .create();
    GenericKubernetesResource read =
        client
            .genericKubernetesResources(GATEWAY_V1, "HTTPRoute")
            .inNamespace(namespace.name())
            .withName("shop")
            .get();

    Map<String, Object> rule = read.<List<Map<String, Object>>>get("spec", "rules").getFirst();
    assertThat(rule)
        .extracting("sessionPersistence")
        .isEqualTo(Map.of("sessionName", "shop-session", "idleTimeout", "30m", "type", "Cookie"));
    assertThat(read.<List<Map<String, Object>>>get("spec", "rules", 0, "backendRefs"))
        .extracting(ref -> ref.get("weight"))
        .containsExactly(90, 10);
  }

  @Test
  @DisplayName(
      "When an Argo Rollout naming a traffic-router plugin is created, then the server keeps it")
  void acceptsArgoRollout(KubernetesClient client, TestNamespace namespace) {
    GenericKubernetesResource rollout =
        Serialization.unmarshal(
            """
            apiVersion: argoproj.io/v1alpha1
            kind: Rollout
            metadata:
              name: shop
            spec:
              replicas: 2
              selector:
                matchLabels: {app: shop}
              template:
                metadata:
                  labels: {app: shop}
                spec:
                  containers:
                  - name: shop
                    image: registry.example/shop:1.0.0
              strategy:
                canary:
                  stableService: shop-stable
                  canaryService: shop-canary
                  trafficRouting:
                    plugins:
                      weighbridge/gateway-api:
                        httpRoute: shop
                  steps:
                  - setWeight: 10
                  - pause: {}
            """,
            GenericKubernetesResource.class);

    client
        .genericKubernetesResources("argoproj.io/v1alpha1", "Rollout")
        .inNamespace(namespace.name())
        .resource(rollout)
        .create();

    GenericKubernetesResource read =
        client
            .genericKubernetesResources("argoproj.io/v1alpha1", "Rollout")
            .inNamespace(namespace.name())
            .withName("shop")
            .get();
    assertThat(
            read.<Map<String, Object>>get(
                "spec",
                "strategy",
                "canary",
                "trafficRouting",
                "plugins",
                "weighbridge/gateway-api"))
        .isEqualTo(Map.of("httpRoute", "shop"));
  }

  @Test
  @DisplayName("When routes are created, changed and deleted, then an informer sees each event")
  void informerReceivesWatchEvents(KubernetesClient client, TestNamespace namespace) {
    List<String> events = new CopyOnWriteArrayList<>();
    var routes =
        client.genericKubernetesResources(GATEWAY_V1, "HTTPRoute").inNamespace(namespace.name());
    try (SharedIndexInformer<GenericKubernetesResource> informer =
        routes.inform(
            new ResourceEventHandler<>() {
              @Override
              public void onAdd(GenericKubernetesResource route) {
                events.add("add " + route.getMetadata().getName());
              }

              @Override
              public void onUpdate(
                  GenericKubernetesResource before, GenericKubernetesResource after) {
                if (!before
                    .getMetadata()
                    .getResourceVersion()
                    .equals(after.getMetadata().getResourceVersion())) {
                  events.add("update " + after.getMetadata().getName());
                }
              }

              @Override
              public void onDelete(GenericKubernetesResource route, boolean unknownFinalState) {
                events.add("delete " + route.getMetadata().getName());
              }
            })) {
      await().atMost(Duration.ofSeconds(30)).until(informer::hasSynced);
      GenericKubernetesResource route =
          Serialization.unmarshal(
              """
              apiVersion: gateway.networking.k8s.io/v1
              kind: HTTPRoute
              metadata: {name: watched}
              spec:
                rules:
                - backendRefs: [{name: stable, port: 80}]
              """,
              GenericKubernetesResource.class);
      routes.resource(route).create();
      await().atMost(Duration.ofSeconds(30)).until(() -> events.contains("add watched"));

      routes.withName("watched").edit(r -> withLabel(r, "touched"));
      await().atMost(Duration.ofSeconds(30)).until(() -> events.contains("update watched"));

      routes.withName("watched").delete();
      await().atMost(Duration.ofSeconds(30)).until(() -> events.contains("delete watched"));
    }
    assertThat(events).containsExactly("add watched", "update watched", "delete watched");
  }

  @Test
  @DisplayName(
      "When the restricted user is granted a role, then it may do exactly that and no more")
  void restrictedUserNeedsRbac(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    try (KubernetesClient restricted =
        new KubernetesClientBuilder().withConfig(server.restrictedConfig()).build()) {
      var routes =
          restricted.genericKubernetesResources(GATEWAY_V1, "HTTPRoute").inNamespace(ns.name());
      assertThatThrownBy(routes::list)
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));

      grantRouteReader(admin, ns.name(), "User", KubeApiServer.RESTRICTED_USER);

      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> assertThat(routes.list().getItems()).isEmpty());
      assertThatThrownBy(() -> restricted.namespaces().list())
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    }
  }

  @Test
  @DisplayName(
      "When a ServiceAccount is granted a role, then a token the server issued for it works")
  void serviceAccountTokensAreIssued(
      KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    Config config = server.serviceAccountConfig(ns.name(), "weighbridge");
    grantRouteReader(admin, ns.name(), "ServiceAccount", "weighbridge");
    try (KubernetesClient asServiceAccount =
        new KubernetesClientBuilder().withConfig(config).build()) {
      var routes =
          asServiceAccount
              .genericKubernetesResources(GATEWAY_V1, "HTTPRoute")
              .inNamespace(ns.name());
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .untilAsserted(() -> assertThat(routes.list().getItems()).isEmpty());
    }
  }

  /** A server for another CRD set: the nested annotation wins over the outer one. */
  @Nested
  @WithKubeApiServer(gatewayApi = "v1.0.0-experimental", argoRollouts = false)
  class OldGatewayApi {
    @Test
    @DisplayName(
        "When Gateway API v1.0.0 is installed, then GRPCRoute is only v1alpha2 and HTTPRoute v1 and v1beta1")
    void servesOldVersions(KubernetesClient client, KubeApiServer server, TestNamespace namespace) {
      assertThat(resources(client, GATEWAY_V1)).contains("httproutes").doesNotContain("grpcroutes");
      assertThat(resources(client, "gateway.networking.k8s.io/v1beta1")).contains("httproutes");
      assertThat(resources(client, "gateway.networking.k8s.io/v1alpha2")).contains("grpcroutes");
      assertThat(client.getApiGroups().getGroups())
          .extracting(group -> group.getName())
          .doesNotContain("argoproj.io");
      assertThat(client.namespaces().withName(namespace.name()).get()).isNotNull();
    }
  }

  private static List<String> resources(KubernetesClient client, String groupVersion) {
    APIResourceList list = client.getApiResources(groupVersion);
    assertThat(list).as("discovery of %s", groupVersion).isNotNull();
    return list.getResources().stream().map(APIResource::getName).toList();
  }

  private static GenericKubernetesResource withLabel(GenericKubernetesResource r, String value) {
    r.getMetadata().setLabels(Map.of("state", value));
    return r;
  }

  private static void grantRouteReader(
      KubernetesClient admin, String namespace, String subjectKind, String subjectName) {
    admin
        .rbac()
        .roles()
        .inNamespace(namespace)
        .resource(
            new RoleBuilder()
                .withNewMetadata()
                .withName("route-reader")
                .endMetadata()
                .addNewRule()
                .withApiGroups("gateway.networking.k8s.io")
                .withResources("httproutes")
                .withVerbs("get", "list", "watch")
                .endRule()
                .build())
        .create();
    admin
        .rbac()
        .roleBindings()
        .inNamespace(namespace)
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName("route-reader")
                .endMetadata()
                .withNewRoleRef()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("Role")
                .withName("route-reader")
                .endRoleRef()
                .addNewSubject()
                .withKind(subjectKind)
                .withName(subjectName)
                .withNamespace(subjectKind.equals("ServiceAccount") ? namespace : null)
                .withApiGroup(subjectKind.equals("User") ? "rbac.authorization.k8s.io" : null)
                .endSubject()
                .build())
        .create();
  }
}
