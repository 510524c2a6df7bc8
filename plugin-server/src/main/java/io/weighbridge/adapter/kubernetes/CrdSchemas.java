package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/** Reads a CustomResourceDefinition's OpenAPI schema: which fields a served version keeps. */
final class CrdSchemas {

  private CrdSchemas() {}

  /** The openAPIV3Schema of {@code version} in the CRD {@code crd} (as JSON), if it has one. */
  static Optional<JsonNode> schemaOf(JsonNode crd, String version) {
    for (JsonNode v : crd.path("spec").path("versions")) {
      if (version.equals(v.path("name").asText())) {
        JsonNode schema = v.path("schema").path("openAPIV3Schema");
        return schema.isObject() ? Optional.of(schema) : Optional.empty();
      }
    }
    return Optional.empty();
  }

  /**
   * Whether {@code schema} keeps the field {@code fieldPath}: dot-separated steps from the object
   * root, {@code name[]} stepping into the items of array {@code name}. The API server prunes what
   * the schema does not declare, unless a level says x-kubernetes-preserve-unknown-fields; metadata
   * is the API server's own and always kept.
   */
  static boolean hasField(JsonNode schema, String fieldPath) {
    if (fieldPath.equals("metadata") || fieldPath.startsWith("metadata.")) {
      return true;
    }
    JsonNode node = schema;
    for (String step : fieldPath.split("\\.", -1)) {
      boolean array = step.endsWith("[]");
      String name = array ? step.substring(0, step.length() - 2) : step;
      if (name.isEmpty()) {
        return false;
      }
      JsonNode next = node.path("properties").path(name);
      if (next.isMissingNode()) {
        return node.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
      }
      node = next;
      if (array) {
        node = node.path("items");
        if (!node.isObject()) {
          return false;
        }
      }
    }
    return true;
  }
}
