package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.weighbridge.domain.routing.ObservedRoute;
import java.util.List;
import java.util.Map;

/** Route objects and patch operations for the adapter's tests, from one place. */
final class RouteFixtures {

  static final String GROUP = "gateway.networking.k8s.io";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private RouteFixtures() {}

  /**
   * An HTTPRoute to a Gateway with one rule splitting 100/0 between {@code stable} and {@code
   * canary} on port 80. With {@code cors}, the rule also has a CORS filter (Gateway API v1.2+
   * experimental), a field the incumbent's typed round-trip used to drop.
   */
  static GenericKubernetesResource httpRoute(
      String apiVersion, String namespace, String name, Map<String, String> labels, boolean cors) {
    ObjectNode route = object(apiVersion, "HTTPRoute", namespace, name, labels);
    ObjectNode spec = route.putObject("spec");
    spec.putArray("parentRefs").addObject().put("name", "gateway");
    ObjectNode rule = spec.putArray("rules").addObject();
    rule.putArray("matches")
        .addObject()
        .putObject("path")
        .put("type", "PathPrefix")
        .put("value", "/");
    if (cors) {
      ObjectNode filter = rule.putArray("filters").addObject().put("type", "CORS");
      ObjectNode c = filter.putObject("cors");
      c.putArray("allowOrigins").add("https://shop.example.com");
      c.putArray("allowMethods").add("GET").add("POST");
      c.put("maxAge", 600);
    }
    backends(rule, 100, 0);
    return resource(route);
  }

  /** A GRPCRoute to a Gateway splitting 100/0 between {@code stable} and {@code canary}. */
  static GenericKubernetesResource grpcRoute(String apiVersion, String namespace, String name) {
    ObjectNode route = object(apiVersion, "GRPCRoute", namespace, name, Map.of());
    ObjectNode spec = route.putObject("spec");
    spec.putArray("parentRefs").addObject().put("name", "gateway");
    backends(spec.putArray("rules").addObject(), 100, 0);
    return resource(route);
  }

  /**
   * Like {@link #httpRoute} with a CORS filter, plus two fields of Gateway API v1.2+ experimental:
   * a rule name and session persistence with an idle timeout (a field fabric8 8.0.0's typed model
   * lacks).
   */
  static GenericKubernetesResource extendedHttpRoute(
      String apiVersion, String namespace, String name) {
    ObjectNode json = (ObjectNode) toJson(httpRoute(apiVersion, namespace, name, Map.of(), true));
    ObjectNode rule = (ObjectNode) json.at("/spec/rules/0");
    rule.put("name", "main");
    rule.putObject("sessionPersistence")
        .put("sessionName", "shop-session")
        .put("type", "Cookie")
        .put("idleTimeout", "30m");
    return resource(json);
  }

  /** Creates {@code route} through {@code client} (as a third party would). */
  static GenericKubernetesResource create(
      io.fabric8.kubernetes.client.KubernetesClient client, GenericKubernetesResource route) {
    return client
        .genericKubernetesResources(context(route.getApiVersion(), route.getKind()))
        .resource(route)
        .create();
  }

  /** fabric8's description of a route kind, for calls that bypass discovery. */
  static ResourceDefinitionContext context(String apiVersion, String kind) {
    return new ResourceDefinitionContext.Builder()
        .withGroup(GROUP)
        .withVersion(apiVersion.substring(apiVersion.indexOf('/') + 1))
        .withKind(kind)
        .withPlural(kind.toLowerCase(java.util.Locale.ROOT) + "s")
        .withNamespaced(true)
        .build();
  }

  /** A copy of {@code route} with {@code field} set to {@code value} at the top of its spec. */
  static GenericKubernetesResource withSpecField(
      GenericKubernetesResource route, String field, JsonNode value) {
    ObjectNode json = (ObjectNode) toJson(route);
    ((ObjectNode) json.get("spec")).set(field, value);
    return resource(json);
  }

  /** The weight of backendRef {@code index} of the first rule. */
  static int weight(ObservedRoute route, int index) {
    return route.object().at("/spec/rules/0/backendRefs/" + index + "/weight").asInt();
  }

  /** The weight of backendRef {@code index} of the first rule. */
  static int weight(GenericKubernetesResource route, int index) {
    return toJson(route).at("/spec/rules/0/backendRefs/" + index + "/weight").asInt();
  }

  /** Patch operations setting the first rule's stable/canary weights. */
  static List<JsonNode> setWeights(int stable, int canary) {
    return List.of(
        replace("/spec/rules/0/backendRefs/0/weight", stable),
        replace("/spec/rules/0/backendRefs/1/weight", canary));
  }

  /** One {@code replace} operation. */
  static JsonNode replace(String path, int value) {
    return JsonNodeFactory.instance
        .objectNode()
        .put("op", "replace")
        .put("path", path)
        .put("value", value);
  }

  /** Parses JSON text (test data). */
  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static void backends(ObjectNode rule, int stable, int canary) {
    var refs = rule.putArray("backendRefs");
    refs.addObject().put("name", "stable").put("port", 80).put("weight", stable);
    refs.addObject().put("name", "canary").put("port", 80).put("weight", canary);
  }

  private static ObjectNode object(
      String apiVersion, String kind, String namespace, String name, Map<String, String> labels) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("apiVersion", apiVersion).put("kind", kind);
    ObjectNode meta = o.putObject("metadata").put("namespace", namespace).put("name", name);
    if (!labels.isEmpty()) {
      ObjectNode l = meta.putObject("labels");
      labels.forEach(l::put);
    }
    return o;
  }

  /** A fabric8 object as Jackson 2 JSON (fabric8 8 itself uses Jackson 3). */
  static JsonNode toJson(GenericKubernetesResource resource) {
    return json(SERIALIZATION.asJson(resource));
  }

  private static GenericKubernetesResource resource(JsonNode json) {
    return SERIALIZATION.unmarshal(json.toString(), GenericKubernetesResource.class);
  }
}
