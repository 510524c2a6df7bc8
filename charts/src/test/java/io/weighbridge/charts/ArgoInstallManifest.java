package io.weighbridge.charts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Argo Rollouts' own {@code manifests/install.yaml}, read from the argo-rollouts Go module that
 * e2e/conformance's go.mod requires and its go.sum pins ({@code go mod download -json} verifies the
 * module against go.sum and names its directory in the module cache): the labels its controller
 * pods carry, not a copy from memory.
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
    Path manifest = moduleDir().resolve("manifests/install.yaml");
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

  private static Path moduleDir() throws IOException, InterruptedException {
    String go = run(ROOT, ROOT.resolve("scripts/find-go").toString()).trim();
    String json =
        run(
            ROOT.resolve("e2e/conformance"),
            go,
            "mod",
            "download",
            "-json",
            "github.com/argoproj/argo-rollouts");
    JsonNode module = JSON.readTree(json);
    if (module.hasNonNull("Error")) {
      throw new IllegalStateException("go mod download: " + module.path("Error").asText());
    }
    return Path.of(module.path("Dir").asText());
  }

  private static String run(Path dir, String... command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed in " + dir + ": " + out);
    }
    return out;
  }
}
