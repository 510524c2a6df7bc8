package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubernetesClientsTest {

  private static final String KUBECONFIG =
      """
      apiVersion: v1
      kind: Config
      clusters:
      - name: test
        cluster: {server: "https://203.0.113.10:6443", insecure-skip-tls-verify: true}
      - name: other
        cluster: {server: "https://203.0.113.20:6443", insecure-skip-tls-verify: true}
      users:
      - name: plugin
        user: {token: not-a-real-token}
      contexts:
      - name: test
        context: {cluster: test, user: plugin, namespace: argo-rollouts}
      - name: other
        context: {cluster: other, user: plugin}
      current-context: test
      """;

  @Test
  @DisplayName("When built from a kubeconfig, then the client uses it with our time bounds")
  void fromKubeconfig(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("config"), KUBECONFIG);

    try (KubernetesClient client =
        KubernetesClients.create(KubernetesClients.Settings.defaults().withKubeconfig(file))) {
      Config config = client.getConfiguration();
      assertThat(config.getMasterUrl()).startsWith("https://203.0.113.10:6443");
      assertThat(config.getRequestTimeout()).isEqualTo(10_000);
      assertThat(config.getConnectionTimeout()).isEqualTo(5_000);
      assertThat(config.getRequestRetryBackoffLimit()).isEqualTo(3);
      assertThat(config.getRequestRetryBackoffInterval()).isEqualTo(200);
      assertThat(config.getMaxConcurrentRequestsPerHost()).isEqualTo(32);
      assertThat(config.getUserAgent()).isEqualTo("weighbridge-plugin-server");
    }
  }

  @Test
  @DisplayName("When a context is named, then that context's cluster is used")
  void namedContext(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("config"), KUBECONFIG);
    var defaults = KubernetesClients.Settings.defaults();
    var settings =
        new KubernetesClients.Settings(
            Optional.of(file),
            Optional.of("other"),
            defaults.requestTimeout(),
            defaults.connectTimeout(),
            defaults.retries(),
            defaults.retryBackoff(),
            defaults.maxConcurrentRequestsPerHost());

    try (KubernetesClient client = KubernetesClients.create(settings)) {
      assertThat(client.getConfiguration().getMasterUrl()).startsWith("https://203.0.113.20:6443");
    }
  }

  @Test
  @DisplayName("When the kubeconfig file is missing, then the error names it and the alternative")
  void missingKubeconfig(@TempDir Path dir) {
    Path missing = dir.resolve("nope");

    assertThatThrownBy(
            () ->
                KubernetesClients.create(
                    KubernetesClients.Settings.defaults().withKubeconfig(missing)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(missing.toString())
        .hasMessageContaining("in-cluster");
  }

  @Test
  @DisplayName("When settings are out of range, then construction says which one")
  void invalidSettings() {
    var d = KubernetesClients.Settings.defaults();
    assertThatThrownBy(
            () ->
                new KubernetesClients.Settings(
                    d.kubeconfig(),
                    d.context(),
                    Duration.ZERO,
                    d.connectTimeout(),
                    d.retries(),
                    d.retryBackoff(),
                    d.maxConcurrentRequestsPerHost()))
        .hasMessageContaining("requestTimeout");
    assertThatThrownBy(
            () ->
                new KubernetesClients.Settings(
                    d.kubeconfig(),
                    d.context(),
                    d.requestTimeout(),
                    d.connectTimeout(),
                    -1,
                    d.retryBackoff(),
                    d.maxConcurrentRequestsPerHost()))
        .hasMessageContaining("retries");
    assertThatThrownBy(
            () ->
                new KubernetesClients.Settings(
                    d.kubeconfig(),
                    d.context(),
                    d.requestTimeout(),
                    d.connectTimeout(),
                    d.retries(),
                    d.retryBackoff(),
                    0))
        .hasMessageContaining("maxConcurrentRequestsPerHost");
  }
}
