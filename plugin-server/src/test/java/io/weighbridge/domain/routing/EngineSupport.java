package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.adapter.kubernetes.ApiCallCounter;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.adapter.metrics.MicrometerRoutingMetrics;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeighbridgeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The whole engine (GatewayApiTrafficRouter + KubernetesRouteClient + Micrometer metrics) on one
 * namespace of a real API server, with the helpers the engine ITs share: create objects as a user
 * would, read them back as Jackson trees, play the Gateway controller (status subresource) and a
 * third party.
 */
final class EngineSupport implements AutoCloseable {

  static final String GROUP = RouteKind.GROUP;

  final KubernetesClient admin;
  final String ns;
  final ApiCallCounter calls = new ApiCallCounter();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final KubernetesRouteClient routes;
  final GatewayApiTrafficRouter router;

  /**
   * The routes whose drift this engine restored, one element per real restoration write. The
   * Micrometer counter is per kind only, and the ITs share one API server: an engine that looks at
   * all namespaces also restores routes other test classes left behind.
   */
  final List<RouteId> restored = new CopyOnWriteArrayList<>();

  private final List<AutoCloseable> toClose = new ArrayList<>();

  EngineSupport(KubernetesClient admin, String ns) {
    this.admin = admin;
    this.ns = ns;
    this.routes =
        new KubernetesRouteClient(admin, KubernetesRouteClient.Settings.defaults(), calls);
    this.router =
        new GatewayApiTrafficRouter(
            routes,
            recording(new MicrometerRoutingMetrics(registry), restored),
            new RouterSettings(
                Duration.ofSeconds(10), Duration.ofMillis(100), Duration.ofHours(1), 64));
  }

  /** {@code metrics}, also noting each drift restoration's route in {@code restored}. */
  private static RoutingMetrics recording(RoutingMetrics metrics, List<RouteId> restored) {
    return new RoutingMetrics() {
      @Override
      public void routeWritten(RouteId route, RoutingMetrics.Operation operation) {
        metrics.routeWritten(route, operation);
      }

      @Override
      public void writeSkipped(RouteId route, RoutingMetrics.Operation operation) {
        metrics.writeSkipped(route, operation);
      }

      @Override
      public void routeFailed(
          RouteId route, RoutingMetrics.Operation operation, WeighbridgeException failure) {
        metrics.routeFailed(route, operation, failure);
      }

      @Override
      public void driftRestored(RouteId route) {
        restored.add(route);
        metrics.driftRestored(route);
      }

      @Override
      public void verifyOutcome(
          VerifyResult.Verification verification, RoutingMetrics.VerifyReason reason) {
        metrics.verifyOutcome(verification, reason);
      }
    };
  }

  /** How many times this engine restored drift on {@code route}. */
  long restorations(RouteId route) {
    return restored.stream().filter(route::equals).count();
  }

  @Override
  public void close() throws Exception {
    router.close();
    routes.close();
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  /** A further namespace (namespaces are not garbage-collected by the test server). */
  String extraNamespace(String prefix) {
    String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    return name;
  }

  static ResourceDefinitionContext context(String apiVersion, String kind) {
    String[] gv = apiVersion.split("/");
    return new ResourceDefinitionContext.Builder()
        .withGroup(gv[0])
        .withVersion(gv[1])
        .withKind(kind)
        .withPlural(kind.toLowerCase(java.util.Locale.ROOT) + "s")
        .withNamespaced(true)
        .build();
  }

  /** Creates {@code object} (any namespace in it is replaced by {@code namespace}). */
  JsonNode create(JsonNode object, String namespace) {
    ObjectNode copy = object.deepCopy();
    ObjectNode meta = (ObjectNode) copy.path("metadata");
    meta.put("namespace", namespace);
    meta.remove("generation");
    meta.remove("resourceVersion");
    GenericKubernetesResource resource =
        admin
            .getKubernetesSerialization()
            .unmarshal(copy.toString(), GenericKubernetesResource.class);
    GenericKubernetesResource created =
        admin
            .genericKubernetesResources(
                context(copy.path("apiVersion").asText(), copy.path("kind").asText()))
            .inNamespace(namespace)
            .resource(resource)
            .create();
    return toJson(created);
  }

  JsonNode create(JsonNode object) {
    return create(object, ns);
  }

  /** The documents of an example manifest ({@link Fixtures#example}). */
  static List<ObjectNode> example(String relativePath) {
    return Fixtures.example(relativePath);
  }

  /** The first document of {@code kind} in an example manifest. */
  static ObjectNode example(String relativePath, String kind) {
    return example(relativePath).stream()
        .filter(d -> d.path("kind").asText().equals(kind))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no " + kind + " in " + relativePath));
  }

  /**
   * A Rollout exactly as an example's manifest has it (plugin key and all), placed in {@code ns}:
   * the plugin configuration's {@code namespace} follows, as a user deploying it there would set.
   */
  Rollout exampleRollout(String relativePath, String pluginKey) {
    ObjectNode rollout = example(relativePath, "Rollout").deepCopy();
    ObjectNode meta = (ObjectNode) rollout.path("metadata");
    String name = meta.path("name").asText();
    meta.put("namespace", ns)
        .put("uid", "uid-" + name)
        .put("generation", 1)
        .put("resourceVersion", "1");
    ObjectNode plugins = (ObjectNode) rollout.at("/spec/strategy/canary/trafficRouting/plugins");
    String original = plugins.fieldNames().next();
    ObjectNode config = (ObjectNode) plugins.remove(original);
    if (config.has("namespace")) {
      config.put("namespace", ns);
    }
    plugins.set(pluginKey, config);
    return new Rollout(ns, name, "uid-" + name, 1, "1", rollout);
  }

  /** A Service with one port, as canary/stable/experiment Services are. */
  void service(String namespace, String name, int port) {
    admin
        .services()
        .inNamespace(namespace)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .addNewPort()
                .withPort(port)
                .endPort()
                .endSpec()
                .build())
        .create();
  }

  /** The route as the API server has it now. */
  JsonNode get(String apiVersion, String kind, String namespace, String name) {
    return toJson(
        admin
            .genericKubernetesResources(context(apiVersion, kind))
            .inNamespace(namespace)
            .withName(name)
            .get());
  }

  JsonNode http(String name) {
    return get(GROUP + "/v1", "HTTPRoute", ns, name);
  }

  /** A third party's JSON patch (kubectl patch --type=json). */
  void patch(String apiVersion, String kind, String namespace, String name, String jsonPatch) {
    admin
        .genericKubernetesResources(context(apiVersion, kind))
        .inNamespace(namespace)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON), jsonPatch);
  }

  /**
   * Plays the Gateway controller: writes {@code status.parents} for every parentRef of the route,
   * Accepted with the given observedGeneration, through the status subresource.
   */
  void writeStatus(String apiVersion, String kind, String name, boolean accepted, long generation) {
    JsonNode route = get(apiVersion, kind, ns, name);
    StringBuilder parents = new StringBuilder();
    for (JsonNode parentRef : route.at("/spec/parentRefs")) {
      if (!parents.isEmpty()) {
        parents.append(',');
      }
      parents.append(
          """
          {"parentRef":%s,"controllerName":"example.com/gateway-controller",
           "conditions":[{"type":"Accepted","status":"%s","reason":"%s","message":"",
                          "observedGeneration":%d,"lastTransitionTime":"2026-01-01T00:00:00Z"}]}
          """
              .formatted(
                  parentRef,
                  accepted ? "True" : "False",
                  accepted ? "Accepted" : "NotAllowed",
                  generation));
    }
    String body = "{\"status\":{\"parents\":[" + parents + "]}}";
    admin
        .genericKubernetesResources(context(apiVersion, kind))
        .inNamespace(ns)
        .withName(name)
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON_MERGE), body);
  }

  /** The weights of rule {@code rule}'s backendRefs by Service name (null when unset). */
  static Map<String, Integer> weights(JsonNode route, int rule) {
    return Fixtures.weights(route, rule);
  }

  /** The rules of a route. */
  static List<JsonNode> rules(JsonNode route) {
    List<JsonNode> out = new ArrayList<>();
    route.path("spec").path("rules").forEach(out::add);
    return out;
  }

  JsonNode toJson(GenericKubernetesResource resource) {
    try {
      return Fixtures.MAPPER.readTree(admin.getKubernetesSerialization().asJson(resource));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The count of a routing counter with the given tags, 0 when absent. */
  double counter(String name, String... tags) {
    var counter = registry.find(name).tags(tags).counters();
    return counter.stream().mapToDouble(c -> c.count()).sum();
  }
}
