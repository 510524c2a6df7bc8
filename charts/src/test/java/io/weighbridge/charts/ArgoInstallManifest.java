package io.weighbridge.charts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.weighbridge.testkit.UpstreamFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Argo Rollouts' own {@code manifests/install.yaml} of v1.9.1, unchanged from the argo-rollouts Go
 * module pinned by testkit/upstream's go.sum (resolved by testkit/upstream/resolve.sh, which checks
 * the module against go.sum): the labels its controller pods carry, not a copy from memory.
 */
final class ArgoInstallManifest {

  private static final Path ROOT =
      Path.of(System.getProperty("weighbridge.root", "..")).toAbsolutePath().normalize();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private ArgoInstallManifest() {}

  /** The pod template labels of install.yaml's Deployment argo-rollouts. */
  static Map<String, String> controllerPodLabels() throws IOException, InterruptedException {
    Map<String, String> labels = new TreeMap<>();
    object("Deployment", "argo-rollouts")
        .at("/spec/template/metadata/labels")
        .properties()
        .forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
    return labels;
  }

  /** The argo-rollouts-config ConfigMap install.yaml ships, as JSON. */
  static String configMapJson() throws IOException, InterruptedException {
    return JSON.writeValueAsString(object("ConfigMap", "argo-rollouts-config"));
  }

  private static JsonNode object(String kind, String name)
      throws IOException, InterruptedException {
    Path manifest =
        UpstreamFiles.locate(System.getenv(), ROOT).manifest(UpstreamFiles.ARGO_ROLLOUTS_INSTALL);
    try (var parser = YAML.createParser(Files.readString(manifest))) {
      var docs = YAML.readValues(parser, JsonNode.class);
      while (docs.hasNext()) {
        JsonNode doc = docs.next();
        if (doc != null
            && kind.equals(doc.path("kind").asText())
            && name.equals(doc.at("/metadata/name").asText())) {
          return doc;
        }
      }
    }
    throw new IllegalStateException(manifest + " has no " + kind + " " + name);
  }
}
