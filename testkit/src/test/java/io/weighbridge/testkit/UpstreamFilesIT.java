package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * testkit/upstream/resolve.sh from this checkout: the bundles the tests name, as upstream has them.
 */
class UpstreamFilesIT {
  static UpstreamFiles files;

  @BeforeAll
  static void resolve() {
    files = UpstreamFiles.locate(Map.of(), java.nio.file.Path.of(""));
  }

  @Nested
  @DisplayName("When the pinned modules are resolved")
  class Resolved {
    @Test
    @DisplayName("then every bundle the tests name exists, standard and experimental")
    void bundles() {
      assertThat(files.crds().bundles())
          .containsExactly(
              Crds.ARGO_ROLLOUTS,
              "gateway-api-v1.0.0-experimental",
              "gateway-api-v1.0.0-standard",
              "gateway-api-v1.2.1-experimental",
              "gateway-api-v1.2.1-standard",
              Crds.GATEWAY_API_LATEST,
              "gateway-api-v1.5.1-standard",
              "gateway-api-v1.6.3-experimental",
              "gateway-api-v1.6.3-standard");
    }

    @Test
    @DisplayName(
        "then the kinds and served versions are each release's: GRPCRoute only v1alpha2 in"
            + " v1.0.0, TCPRoute only v1 in v1.6.3's standard channel")
    void servedVersions() {
      assertThat(served("gateway-api-v1.0.0-standard"))
          .containsOnlyKeys("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant")
          .containsEntry("HTTPRoute", List.of("v1", "v1beta1"));
      assertThat(served("gateway-api-v1.0.0-experimental"))
          .containsEntry("GRPCRoute", List.of("v1alpha2"));
      assertThat(served("gateway-api-v1.6.3-standard"))
          .containsEntry("TCPRoute", List.of("v1"))
          .containsEntry("TLSRoute", List.of("v1"));
      assertThat(served(Crds.GATEWAY_API_LATEST))
          .containsKeys("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute");
      assertThat(served(Crds.ARGO_ROLLOUTS))
          .containsOnlyKeys(
              "Rollout",
              "AnalysisRun",
              "AnalysisTemplate",
              "ClusterAnalysisTemplate",
              "Experiment");
    }

    @Test
    @DisplayName("then Argo Rollouts' install manifest is there, with its controller Deployment")
    void argoInstall() throws Exception {
      assertThat(Files.readString(files.manifest(UpstreamFiles.ARGO_ROLLOUTS_INSTALL)))
          .contains("kind: Deployment")
          .contains("name: argo-rollouts");
    }
  }

  private static Map<String, List<String>> served(String bundle) {
    Map<String, List<String>> out = new TreeMap<>();
    for (CustomResourceDefinition crd : files.crds().read(bundle)) {
      out.put(
          crd.getSpec().getNames().getKind(),
          crd.getSpec().getVersions().stream()
              .filter(v -> Boolean.TRUE.equals(v.getServed()))
              .map(CustomResourceDefinitionVersion::getName)
              .sorted()
              .toList());
    }
    return out;
  }
}
