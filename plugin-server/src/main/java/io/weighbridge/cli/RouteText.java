package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A route's traffic-relevant parts as text lines (labels, rules, their matches, backendRefs with
 * weights, mirror filters), and a line diff between two versions in the style of {@code diff -u}.
 * Pure.
 */
public final class RouteText {

  private RouteText() {}

  /** The lines describing {@code route}; stable for an unchanged object. */
  public static List<String> lines(JsonNode route) {
    List<String> lines = new ArrayList<>();
    for (Map.Entry<String, JsonNode> label : route.path("metadata").path("labels").properties()) {
      lines.add("label " + label.getKey() + "=" + label.getValue().asText());
    }
    JsonNode rules = route.path("spec").path("rules");
    for (int i = 0; i < rules.size(); i++) {
      JsonNode rule = rules.get(i);
      String name = rule.path("name").asText("");
      lines.add("rule " + i + (name.isEmpty() ? "" : " \"" + name + "\""));
      JsonNode matches = rule.path("matches");
      if (!matches.isMissingNode() && !matches.isEmpty()) {
        lines.add("  matches " + canonical(matches));
      }
      for (JsonNode filter : rule.path("filters")) {
        JsonNode mirror = filter.path("requestMirror");
        if (!mirror.isMissingNode()) {
          lines.add("  mirror to " + backend(mirror.path("backendRef")) + percent(mirror));
        }
      }
      for (JsonNode ref : rule.path("backendRefs")) {
        lines.add("  backendRef " + backend(ref) + weight(ref));
      }
    }
    return lines;
  }

  /**
   * {@code node} with object keys sorted at every level, so that equal JSON renders equally: the
   * API server returns keys in its own order, the engine's working copy in insertion order.
   */
  static JsonNode canonical(JsonNode node) {
    if (node.isObject()) {
      ObjectNode sorted = JsonNodeFactory.instance.objectNode();
      Map<String, JsonNode> byKey = new TreeMap<>();
      node.properties().forEach(e -> byKey.put(e.getKey(), e.getValue()));
      byKey.forEach((k, v) -> sorted.set(k, canonical(v)));
      return sorted;
    }
    if (node.isArray()) {
      ArrayNode copy = JsonNodeFactory.instance.arrayNode();
      node.forEach(e -> copy.add(canonical(e)));
      return copy;
    }
    return node;
  }

  /** {@code web-canary:80}, {@code other/web:80}, {@code Kind web}: as short as unambiguous. */
  static String backend(JsonNode ref) {
    StringBuilder s = new StringBuilder();
    String kind = ref.path("kind").asText("Service");
    String group = ref.path("group").asText("");
    if (!kind.equals("Service") || !(group.isEmpty() || group.equals("core"))) {
      s.append(group.isEmpty() ? "" : group + "/").append(kind).append(' ');
    }
    String namespace = ref.path("namespace").asText("");
    if (!namespace.isEmpty()) {
      s.append(namespace).append('/');
    }
    s.append(ref.path("name").asText("?"));
    if (ref.path("port").isNumber()) {
      s.append(':').append(ref.path("port").asInt());
    }
    return s.toString();
  }

  private static String weight(JsonNode ref) {
    JsonNode w = ref.path("weight");
    return w.isNumber() ? " weight " + w.asInt() : " weight (unset: 1)";
  }

  private static String percent(JsonNode mirror) {
    if (mirror.path("percent").isNumber()) {
      return " " + mirror.path("percent").asInt() + "%";
    }
    if (mirror.has("fraction")) {
      return " fraction " + mirror.path("fraction");
    }
    return "";
  }

  /**
   * A unified-diff-like view: a {@code ---}/{@code +++} header, then every line prefixed with
   * {@code ' '}, {@code '-'} or {@code '+'} (routes are small: the whole route is context).
   */
  public static List<String> diff(
      String beforeLabel, List<String> before, String afterLabel, List<String> after) {
    List<String> out = new ArrayList<>();
    out.add("--- " + beforeLabel);
    out.add("+++ " + afterLabel);
    int n = before.size();
    int m = after.size();
    // Longest common subsequence table, filled from the ends.
    int[][] lcs = new int[n + 1][m + 1];
    for (int i = n - 1; i >= 0; i--) {
      for (int j = m - 1; j >= 0; j--) {
        lcs[i][j] =
            before.get(i).equals(after.get(j))
                ? lcs[i + 1][j + 1] + 1
                : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    int i = 0;
    int j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && before.get(i).equals(after.get(j))) {
        out.add("  " + before.get(i));
        i++;
        j++;
      } else if (j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j])) {
        out.add("+ " + after.get(j));
        j++;
      } else {
        out.add("- " + before.get(i));
        i++;
      }
    }
    return out;
  }
}
