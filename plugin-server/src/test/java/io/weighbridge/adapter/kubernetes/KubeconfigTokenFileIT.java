package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kubeconfig whose user has {@code tokenFile:} instead of {@code token:} (fabric8 alone ignores
 * it and gets 401) against a real kube-apiserver.
 */
@WithKubeApiServer
class KubeconfigTokenFileIT {

  private static final Pattern TOKEN = Pattern.compile("(?m)^(\\s*)token: (\\S+)$");

  /** The admin kubeconfig with its token moved into {@code token} next to it (relative path). */
  private static Path withTokenFile(KubeApiServer server, Path dir) throws Exception {
    String kubeconfig = Files.readString(server.kubeconfig());
    Matcher m = TOKEN.matcher(kubeconfig);
    assertThat(m.find()).as("the testkit's kubeconfig has a token").isTrue();
    Files.writeString(dir.resolve("token"), m.group(2) + "\n");
    return Files.writeString(
        dir.resolve("config"),
        m.replaceFirst(Matcher.quoteReplacement(m.group(1) + "tokenFile: token")));
  }

  @Nested
  class WhenTheUserHasATokenFile {
    @Test
    @DisplayName("When the user has a tokenFile, then requests carry its token and are admitted")
    void tokenFileIsUsed(KubeApiServer server, TestNamespace ns, @TempDir Path dir)
        throws Exception {
      Path config = withTokenFile(server, dir);

      try (KubernetesClient client =
          KubernetesClients.create(KubernetesClients.Settings.defaults().withKubeconfig(config))) {
        assertThat(client.namespaces().withName(ns.name()).get()).isNotNull();
      }
    }

    @Test
    @DisplayName("When the tokenFile is missing, then start fails naming the file and the fix")
    void missingTokenFileRefused(KubeApiServer server, @TempDir Path dir) throws Exception {
      Path config = withTokenFile(server, dir);
      Files.delete(dir.resolve("token"));

      assertThatThrownBy(
              () ->
                  KubernetesClients.create(
                      KubernetesClients.Settings.defaults().withKubeconfig(config)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("tokenFile " + dir.resolve("token"))
          .hasMessageContaining("cannot be read");
    }
  }

  @Test
  @DisplayName("When the user has a plain token, then nothing changes")
  void plainToken(KubeApiServer server, KubernetesClient admin, TestNamespace ns) {
    try (KubernetesClient client =
        KubernetesClients.create(
            KubernetesClients.Settings.defaults().withKubeconfig(server.kubeconfig()))) {
      assertThat(client.namespaces().withName(ns.name()).get()).isNotNull();
    }
  }
}
