package io.weighbridge.e2e;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The real API server and the objects that {@link EngineServerMain} (the real-path conformance
 * test) and {@link EngineBenchMain} route on: a namespace, the apex, stable and canary Services of
 * one app, a Gateway, Gateway-parented HTTPRoutes and Service-parented (GAMMA) GRPCRoutes, each
 * with one rule sending 100/0 to stable/canary, as a user would have them before a canary.
 */
final class EngineFixtures {

  /** The Gateway API group. */
  static final String GATEWAY_API = "gateway.networking.k8s.io/v1";

  /** The Service Argo's canary ReplicaSet is behind. */
  static final String CANARY = "checkout-canary";

  /** The Service Argo's stable ReplicaSet is behind. */
  static final String STABLE = "checkout-stable";

  /** The Service the mesh routes (GAMMA parent): clients call this one. */
  static final String APEX = "checkout";

  /** The Gateway the HTTPRoutes attach to. */
  static final String GATEWAY = "traefik-gateway";

  private EngineFixtures() {}

  /**
   * Starts kube-apiserver and etcd and installs {@code bundles} (parsed while the server starts),
   * as the testkit's JUnit extension does.
   */
  static KubeApiServer startApiServer(String... bundles) {
    Crds crds = Crds.locate();
    CompletableFuture<List<CustomResourceDefinition>> parsed =
        CompletableFuture.supplyAsync(
            () -> List.of(bundles).stream().flatMap(b -> crds.read(b).stream()).toList());
    KubeApiServer server = KubeApiServer.start();
    try {
      crds.install(server.client(), parsed.join(), Duration.ofSeconds(120));
      return server;
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /** Creates {@code namespace} with the three Services (port 80) and the Gateway. */
  static void namespaceWithServices(KubernetesClient client, String namespace) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .create();
    for (String name : List.of(APEX, STABLE, CANARY)) {
      client
          .services()
          .inNamespace(namespace)
          .resource(
              new ServiceBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withNamespace(namespace)
                  .endMetadata()
                  .withNewSpec()
                  .addToSelector("app.kubernetes.io/name", APEX)
                  .addNewPort()
                  .withName("http")
                  .withPort(80)
                  .withNewTargetPort(8080)
                  .endPort()
                  .endSpec()
                  .build())
          .create();
    }
    create(
        client,
        """
        {"apiVersion": "%s", "kind": "Gateway",
         "metadata": {"name": "%s", "namespace": "%s"},
         "spec": {"gatewayClassName": "traefik",
                  "listeners": [{"name": "web", "protocol": "HTTP", "port": 8000}]}}
        """
            .formatted(GATEWAY_API, GATEWAY, namespace));
  }

  /**
   * Creates an HTTPRoute attached to the Gateway with one rule (path prefix {@code /}, a user-owned
   * response header filter) sending 100/0 to stable/canary.
   */
  static void httpRoute(KubernetesClient client, String namespace, String name) {
    create(
        client,
        """
        {"apiVersion": "%s", "kind": "HTTPRoute",
         "metadata": {"name": "%s", "namespace": "%s", "labels": {"app.kubernetes.io/name": "%s"}},
         "spec": {
           "parentRefs": [{"name": "%s", "sectionName": "web"}],
           "hostnames": ["shop.example.com"],
           "rules": [{
             "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
             "filters": [{"type": "ResponseHeaderModifier",
                          "responseHeaderModifier": {"set": [{"name": "X-Served-By", "value": "shop"}]}}],
             "backendRefs": [{"name": "%s", "port": 80, "weight": 100},
                             {"name": "%s", "port": 80, "weight": 0}]}]}}
        """
            .formatted(GATEWAY_API, name, namespace, APEX, GATEWAY, STABLE, CANARY));
  }

  /**
   * Creates a GRPCRoute attached to the apex Service (a GAMMA mesh route, as Linkerd serves) with
   * one rule for a gRPC service sending 100/0 to stable/canary.
   */
  static void grpcRoute(KubernetesClient client, String namespace, String name) {
    create(
        client,
        """
        {"apiVersion": "%s", "kind": "GRPCRoute",
         "metadata": {"name": "%s", "namespace": "%s", "labels": {"app.kubernetes.io/name": "%s"}},
         "spec": {
           "parentRefs": [{"group": "", "kind": "Service", "name": "%s", "port": 80}],
           "rules": [{
             "matches": [{"method": {"type": "Exact", "service": "shop.v1.Checkout"}}],
             "backendRefs": [{"name": "%s", "port": 80, "weight": 100},
                             {"name": "%s", "port": 80, "weight": 0}]}]}}
        """
            .formatted(GATEWAY_API, name, namespace, APEX, APEX, STABLE, CANARY));
  }

  /** Creates the object {@code json} describes (apiVersion, kind and namespace from it). */
  static GenericKubernetesResource create(KubernetesClient client, String json) {
    GenericKubernetesResource resource =
        client.getKubernetesSerialization().unmarshal(json, GenericKubernetesResource.class);
    return client
        .genericKubernetesResources(resource.getApiVersion(), resource.getKind())
        .inNamespace(resource.getMetadata().getNamespace())
        .resource(resource)
        .create();
  }
}
