package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.weighbridge.testkit.KubeApiServerExtension.CrdSet;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class KubeApiServerExtensionTest {
  @Test
  @DisplayName(
      "When a test method has a long, odd name, then its namespace name is a valid DNS label")
  void namespaceNamesAreDnsLabels() {
    String name =
        KubeApiServerExtension.namespaceName(
            "When_the_Rollout_steps_to_100%_then_EVERY_route__points_at_the_canary_and_nothing_else");

    assertThat(name).hasSizeLessThanOrEqualTo(63).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    assertThat(name).startsWith("t-when-the-rollout-steps-to-100-then-every-route");
  }

  @Test
  @DisplayName("When two classes ask for the same CRDs, then they share one server key")
  void sameSettingsShareKey() {
    @WithKubeApiServer(gatewayApi = "v1.0.0-experimental")
    class A {}
    @WithKubeApiServer(gatewayApi = " v1.0.0-experimental ", argoRollouts = true)
    class B {}

    CrdSet a = CrdSet.of(A.class.getAnnotation(WithKubeApiServer.class));
    CrdSet b = CrdSet.of(B.class.getAnnotation(WithKubeApiServer.class));

    assertThat(a).isEqualTo(b);
    assertThat(a.bundles()).containsExactly("gateway-api-v1.0.0-experimental", Crds.ARGO_ROLLOUTS);
  }
}
