package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A Service a backendRef may point at (canary, stable or experiment).
 *
 * @param namespace the Service's namespace (the Rollout's)
 * @param name the Service's name
 */
record ServiceRef(String namespace, String name) {

  /**
   * True when {@code backendRef} refers to this Service by identity: group core ({@code ""}, {@code
   * core} or absent), kind Service (or absent), namespace (absent means the route's) and name. Any
   * port of the Service counts. Matching by name alone is how the incumbent stripped and overwrote
   * other teams' backends.
   */
  boolean isReferencedBy(JsonNode backendRef, String routeNamespace) {
    String group = backendRef.path("group").asText("");
    String kind = backendRef.path("kind").asText("Service");
    String namespace = backendRef.path("namespace").asText(routeNamespace);
    return (group.isEmpty() || group.equals("core"))
        && kind.equals("Service")
        && namespace.equals(this.namespace)
        && name.equals(backendRef.path("name").asText());
  }

  /** {@code namespace/name}. */
  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
