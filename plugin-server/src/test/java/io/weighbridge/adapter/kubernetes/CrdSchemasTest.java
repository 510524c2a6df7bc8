package io.weighbridge.adapter.kubernetes;

import static io.weighbridge.adapter.kubernetes.RouteFixtures.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class CrdSchemasTest {

  private static final JsonNode CRD =
      json(
          """
          {"spec": {"versions": [
            {"name": "v1beta1", "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
              "spec": {"type": "object", "properties": {
                "rules": {"type": "array", "items": {"type": "object", "properties": {
                  "name": {"type": "string"},
                  "filters": {"type": "array", "items": {"type": "object", "properties": {
                    "requestMirror": {"type": "object", "properties": {
                      "percent": {"type": "integer"}}}}}},
                  "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}}}}}}}
          ]}}
          """);

  private static JsonNode v1() {
    return CrdSchemas.schemaOf(CRD, "v1").orElseThrow();
  }

  @Test
  @DisplayName("When a path names declared fields, then it is served")
  void declared() {
    assertThat(CrdSchemas.hasField(v1(), "spec.rules[].name")).isTrue();
    assertThat(CrdSchemas.hasField(v1(), "spec.rules[].filters[].requestMirror.percent")).isTrue();
    assertThat(CrdSchemas.hasField(v1(), "spec.rules")).isTrue();
  }

  @Test
  @DisplayName("When a step is missing or an array step lacks [], then it is not served")
  void missing() {
    assertThat(CrdSchemas.hasField(v1(), "spec.rules[].sessionPersistence")).isFalse();
    assertThat(CrdSchemas.hasField(v1(), "spec.rules.name")).isFalse();
    assertThat(CrdSchemas.hasField(v1(), "spec.rules[].name[]")).isFalse();
    assertThat(CrdSchemas.hasField(v1(), "spec..rules")).isFalse();
  }

  @Test
  @DisplayName("When a level preserves unknown fields, then anything below it is served")
  void preserveUnknown() {
    assertThat(CrdSchemas.hasField(v1(), "spec.rules[].extra.anything.deeper")).isTrue();
  }

  @Test
  @DisplayName("When the path is under metadata, then it is served whatever the schema says")
  void metadata() {
    assertThat(CrdSchemas.hasField(v1(), "metadata.labels")).isTrue();
  }

  @Test
  @DisplayName("When versions differ, then each has its own schema")
  void perVersion() {
    JsonNode beta = CrdSchemas.schemaOf(CRD, "v1beta1").orElseThrow();
    assertThat(CrdSchemas.hasField(beta, "spec.rules[].name")).isFalse();
    assertThat(CrdSchemas.schemaOf(CRD, "v1alpha2")).isEmpty();
  }
}
