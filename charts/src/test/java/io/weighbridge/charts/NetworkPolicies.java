package io.weighbridge.charts;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Evaluates a rendered NetworkPolicy's ingress the way Kubernetes does, for one caller pod. */
final class NetworkPolicies {

  private NetworkPolicies() {}

  /**
   * Whether {@code policy} admits a pod with {@code podLabels}, in a namespace with {@code
   * nsLabels} (which carry {@code kubernetes.io/metadata.name}), to the named container port: some
   * ingress rule lists the port and has a peer whose namespaceSelector (absent: the policy's own
   * namespace) and podSelector (absent: every pod) both match.
   */
  static boolean admits(
      JsonNode policy, String port, Map<String, String> podLabels, Map<String, String> nsLabels) {
    String own = policy.at("/metadata/namespace").asText();
    for (JsonNode rule : policy.at("/spec/ingress")) {
      if (!rule.path("ports").findValuesAsText("port").contains(port)) {
        continue;
      }
      for (JsonNode peer : rule.path("from")) {
        boolean ns =
            peer.has("namespaceSelector")
                ? matches(peer.path("namespaceSelector"), nsLabels)
                : own.equals(nsLabels.get("kubernetes.io/metadata.name"));
        boolean pod = !peer.has("podSelector") || matches(peer.path("podSelector"), podLabels);
        if (ns && pod) {
          return true;
        }
      }
    }
    return false;
  }

  /** A LabelSelector: every matchLabels entry and every matchExpressions requirement holds. */
  static boolean matches(JsonNode selector, Map<String, String> labels) {
    for (var e : selector.path("matchLabels").properties()) {
      if (!e.getValue().asText().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    for (JsonNode req : selector.path("matchExpressions")) {
      String key = req.path("key").asText();
      List<String> values = new ArrayList<>();
      req.path("values").forEach(v -> values.add(v.asText()));
      boolean ok =
          switch (req.path("operator").asText()) {
            case "In" -> values.contains(labels.get(key));
            case "NotIn" -> !values.contains(labels.get(key));
            case "Exists" -> labels.containsKey(key);
            case "DoesNotExist" -> !labels.containsKey(key);
            default ->
                throw new IllegalArgumentException("unknown operator in " + req.toPrettyString());
          };
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
