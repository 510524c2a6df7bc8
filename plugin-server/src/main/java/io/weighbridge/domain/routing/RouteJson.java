package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Map;
import java.util.TreeMap;

/** Read helpers and JSON pointers for route objects, shared by every route kind. */
final class RouteJson {
  private RouteJson() {}

  /** spec.rules, or an empty array when absent. */
  static ArrayNode rules(JsonNode route) {
    JsonNode rules = route.path("spec").path("rules");
    return rules.isArray() ? (ArrayNode) rules : JsonNodeFactory.instance.arrayNode();
  }

  /** rule.backendRefs, or an empty array when absent. */
  static ArrayNode backendRefs(JsonNode rule) {
    JsonNode refs = rule.path("backendRefs");
    return refs.isArray() ? (ArrayNode) refs : JsonNodeFactory.instance.arrayNode();
  }

  /** The rule's name, or null when it has none. */
  static String ruleName(JsonNode rule) {
    JsonNode name = rule.get("name");
    return name != null && name.isTextual() ? name.asText() : null;
  }

  /** metadata.labels as a sorted map. */
  static Map<String, String> labels(JsonNode route) {
    Map<String, String> labels = new TreeMap<>();
    JsonNode node = route.path("metadata").path("labels");
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      labels.put(e.getKey(), e.getValue().asText());
    }
    return labels;
  }

  /** The annotation's value, or null. */
  static String annotation(JsonNode route, String key) {
    JsonNode v = route.path("metadata").path("annotations").get(key);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  /** The route's metadata.generation (0 when absent). */
  static long generation(JsonNode route) {
    return route.path("metadata").path("generation").asLong(0);
  }

  /** Pointer to spec.rules[i]. */
  static String rule(int i) {
    return "/spec/rules/" + i;
  }

  /** Pointer to spec.rules[i].backendRefs[j]. */
  static String backendRef(int i, int j) {
    return "/spec/rules/" + i + "/backendRefs/" + j;
  }

  /** {@code rule 2 ("web")} or {@code rule 2}, for messages. */
  static String describeRule(JsonNode rule, int i) {
    String name = ruleName(rule);
    return name == null ? "rule " + i : "rule " + i + " (\"" + name + "\")";
  }
}
