package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * Content identity of a route rule, independent of the API server's defaulting: the Gateway API
 * CRDs fill in {@code group: ""}, {@code kind: Service}, {@code weight: 1}, {@code type: Exact},
 * {@code path: {type: PathPrefix, value: /}} and so on, so a rule reads back with more fields than
 * were written. Both sides are normalized (defaults removed, keys sorted) before comparing or
 * hashing. Used to find managed rules on CRDs without rule names and to skip writes of unchanged
 * rules.
 */
final class RuleFingerprint {
  private RuleFingerprint() {}

  /** A short hash of the normalized rule (without its name). */
  static String of(JsonNode rule) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(normalize(rule).toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** True when the two rules mean the same once defaults are ignored (names included). */
  static boolean sameContent(JsonNode a, JsonNode b) {
    return normalize(a).equals(normalize(b))
        && Objects.equals(RouteJson.ruleName(a), RouteJson.ruleName(b));
  }

  /** The rule without its name, without default values, with sorted keys. */
  static JsonNode normalize(JsonNode rule) {
    JsonNode copy = sorted(rule);
    if (copy instanceof ObjectNode o) {
      o.remove("name");
      stripDefaults(o, "");
    }
    return copy;
  }

  private static void stripDefaults(JsonNode node, String parentKey) {
    if (node instanceof ArrayNode a) {
      for (JsonNode item : a) {
        stripDefaults(item, parentKey);
      }
      return;
    }
    if (!(node instanceof ObjectNode o)) {
      return;
    }
    List<String> keys = new ArrayList<>();
    o.fieldNames().forEachRemaining(keys::add);
    for (String key : keys) {
      stripDefaults(o.get(key), key);
    }
    switch (parentKey) {
      case "backendRefs", "backendRef" -> {
        removeIf(o, "group", "");
        removeIf(o, "group", "core");
        removeIf(o, "kind", "Service");
        if (parentKey.equals("backendRefs") && o.path("weight").isNumber()) {
          if (o.path("weight").asInt() == 1) {
            o.remove("weight");
          }
        }
      }
      case "headers", "queryParams" -> removeIf(o, "type", "Exact");
      case "method" -> removeIf(o, "type", "Exact");
      case "path" -> {
        if ("PathPrefix".equals(o.path("type").asText()) && "/".equals(o.path("value").asText())) {
          o.remove("type");
          o.remove("value");
        }
      }
      case "fraction" -> {
        if (o.path("denominator").asInt(0) == 100) {
          o.remove("denominator");
        }
      }
      case "requestRedirect" -> {
        if (o.path("statusCode").asInt(0) == 302) {
          o.remove("statusCode");
        }
      }
      default -> {}
    }
    if (parentKey.equals("matches") && o.path("path").isObject() && o.path("path").isEmpty()) {
      o.remove("path");
    }
    if (parentKey.isEmpty()) {
      JsonNode matches = o.get("matches");
      if (matches != null
          && matches.isArray()
          && (matches.isEmpty() || (matches.size() == 1 && matches.get(0).isEmpty()))) {
        o.remove("matches");
      }
      for (String k : List.of("filters", "backendRefs")) {
        if (o.path(k).isArray() && o.path(k).isEmpty()) {
          o.remove(k);
        }
      }
    }
  }

  private static void removeIf(ObjectNode o, String key, String value) {
    if (o.path(key).isTextual() && o.path(key).asText().equals(value)) {
      o.remove(key);
    }
  }

  private static JsonNode sorted(JsonNode node) {
    if (node.isObject()) {
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      List<String> keys = new ArrayList<>();
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        keys.add(it.next());
      }
      keys.sort(null);
      for (String k : keys) {
        out.set(k, sorted(node.get(k)));
      }
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = JsonNodeFactory.instance.arrayNode();
      node.forEach(n -> out.add(sorted(n)));
      return out;
    }
    if (node.isNumber()) {
      return JsonNodeFactory.instance.numberNode(node.decimalValue().stripTrailingZeros());
    }
    return node.deepCopy();
  }
}
