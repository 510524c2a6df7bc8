package io.weighbridge.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;

/** What {@code -o/--output} prints. */
enum OutputFormat {
  /** Readable text. */
  text,
  /** One JSON document, for scripts. */
  json,
  /** The same document as YAML, as kubectl's {@code -o yaml}. */
  yaml;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ObjectMapper YAML =
      new ObjectMapper(
          YAMLFactory.builder()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
              .build());

  /** {@code document} (a JsonNode or a record) as this format's text, ending in a newline. */
  String document(Object document) throws JsonProcessingException {
    return switch (this) {
      case json -> JSON.writeValueAsString(document) + "\n";
      case yaml -> YAML.writeValueAsString(document);
      case text -> throw new IllegalStateException("text has no document form");
    };
  }
}
