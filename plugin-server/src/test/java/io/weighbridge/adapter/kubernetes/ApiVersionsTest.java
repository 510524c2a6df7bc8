package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ApiVersionsTest {

  @Test
  @DisplayName("When versions are sorted, then GA comes before beta before alpha, newest first")
  void kubernetesPreference() {
    List<String> sorted =
        Stream.of("v1alpha2", "custom", "v1beta1", "v1", "v1alpha3", "v2beta1", "v2")
            .sorted(ApiVersions.PREFERRED_FIRST)
            .toList();

    assertThat(sorted)
        .containsExactly("v2", "v1", "v2beta1", "v1beta1", "v1alpha3", "v1alpha2", "custom");
  }
}
