package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code connector-config}: rendering, digests, and the command against a tiny HTTP server. */
class ConnectorConfigTest {

  private static final String DIGEST =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  private HttpServer server;
  private final Map<String, String> served = new ConcurrentHashMap<>();
  private final List<String> requested = new ArrayList<>();

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  @Test
  @DisplayName("When rendered, then the ConfigMap and the Helm values carry the same entry")
  void rendersConfigMapAndHelmValues() {
    ConnectorConfig config =
        new ConnectorConfig(
            "weighbridge/gateway-api",
            URI.create("http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64"),
            DIGEST.toUpperCase(),
            "weighbridge.argo-rollouts.svc:9090",
            List.of("--token-file=/var/run/secrets/weighbridge/token"),
            "argo-rollouts");

    assertThat(config.configMapYaml())
        .isEqualTo(
            """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: argo-rollouts-config
              namespace: argo-rollouts
            data:
              trafficRouterPlugins: |
                - name: "weighbridge/gateway-api"
                  location: "http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64"
                  sha256: "%s"
                  args:
                    - "--server=weighbridge.argo-rollouts.svc:9090"
                    - "--plugin-name=weighbridge/gateway-api"
                    - "--token-file=/var/run/secrets/weighbridge/token"
            """
                .formatted(DIGEST));
    assertThat(config.helmValuesYaml())
        .isEqualTo(
            """
            controller:
              trafficRouterPlugins:
                - name: "weighbridge/gateway-api"
                  location: "http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64"
                  sha256: "%s"
                  args:
                    - "--server=weighbridge.argo-rollouts.svc:9090"
                    - "--plugin-name=weighbridge/gateway-api"
                    - "--token-file=/var/run/secrets/weighbridge/token"
            """
                .formatted(DIGEST));
  }

  @Test
  @DisplayName("When a value is bad, then the record says what and how to fix it")
  void rejectsBadValues() {
    URI location = URI.create("http://x/connector/linux-amd64");
    assertThatThrownBy(
            () -> new ConnectorConfig("gateway-api", location, DIGEST, "x:9090", List.of(), "a"))
        .hasMessageContaining("does not match Argo's pattern <org>/<name>");
    assertThatThrownBy(
            () -> new ConnectorConfig("a/b", location, "abc", "x:9090", List.of(), "argo"))
        .hasMessageContaining("is not a sha256 digest");
    assertThat(
            ConnectorConfig.parseDigestLine(DIGEST + "  weighbridge-connector-linux-amd64\n", "x"))
        .isEqualTo(DIGEST);
    assertThatThrownBy(() -> ConnectorConfig.parseDigestLine("<html>not found</html>", "url"))
        .hasMessageContaining("url does not start with a sha256 digest");
    assertThat(ConnectorConfig.quote("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
  }

  @Test
  @DisplayName(
      "When the server serves the .sha256, then connector-config prints it with the location and"
          + " the gRPC address derived from --server-url")
  void fetchesDigestFromServer() throws IOException {
    String url = start();
    served.put("/connector/linux-arm64.sha256", DIGEST + "  weighbridge-connector-linux-arm64\n");

    CliRun run =
        CliRun.of(
            "connector-config",
            "--server-url",
            url + "/",
            "--arch",
            "linux-arm64",
            "--plugin-name",
            "argoproj-labs/gatewayAPI");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(requested).containsExactly("/connector/linux-arm64.sha256");
    assertThat(run.out())
        .contains("name: argo-rollouts-config")
        .contains("- name: \"argoproj-labs/gatewayAPI\"")
        .contains("location: \"" + url + "/connector/linux-arm64\"")
        .contains("sha256: \"" + DIGEST + "\"")
        .contains("- \"--server=127.0.0.1:9090\"")
        .contains("---\n# The same as values of the argo-rollouts Helm chart")
        .contains("controller:\n  trafficRouterPlugins:");
  }

  @Test
  @DisplayName(
      "When --digest-from is given, then the digest comes from there and the location stays on"
          + " --server-url")
  void digestFromPortForward() throws IOException {
    String local = start();
    served.put("/connector/linux-amd64.sha256", DIGEST + "  weighbridge-connector-linux-amd64\n");

    CliRun run = CliRun.of("connector-config", "--digest-from", local, "-o", "configmap");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(requested).containsExactly("/connector/linux-amd64.sha256");
    assertThat(run.out())
        .contains("location: \"http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64\"")
        .contains("sha256: \"" + DIGEST + "\"")
        .contains("\"--server=weighbridge.argo-rollouts.svc:9090\"");
  }

  @Test
  @DisplayName("When the server has no connector, then it exits 1 naming the URL and the fix")
  void missingConnectorFails() throws IOException {
    String url = start();

    CliRun run = CliRun.of("connector-config", "--server-url", url, "-o", "helm");

    assertThat(run.code()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .contains(url + "/connector/linux-amd64.sha256 answered HTTP 404 (no such connector here)")
        .contains("pass --connector-file");
  }

  @Test
  @DisplayName("When --connector-file is given, then its digest is computed and no request is made")
  void digestFromFile(@TempDir Path dir) throws Exception {
    String url = start();
    Path file = dir.resolve("weighbridge-connector");
    Files.write(file, "a connector".getBytes(StandardCharsets.UTF_8));
    String expected =
        ConnectorConfig.hex(
            MessageDigest.getInstance("SHA-256")
                .digest("a connector".getBytes(StandardCharsets.UTF_8)));

    CliRun run =
        CliRun.of(
            "connector-config",
            "--server-url",
            url,
            "--connector-file",
            file.toString(),
            "--grpc-address",
            "weighbridge.example:443",
            "-o",
            "configmap");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(requested).isEmpty();
    assertThat(run.out())
        .contains("sha256: \"" + expected + "\"")
        .contains("\"--server=weighbridge.example:443\"")
        .doesNotContain("controller:");
  }

  @Test
  @DisplayName("When a flag is bad, then it exits 2 with the flag's name")
  void badUsage() {
    CliRun arch = CliRun.of("connector-config", "--arch", "amd64", "--connector-file", "/dev/null");
    assertThat(arch.code()).isEqualTo(2);
    assertThat(arch.err()).contains("--arch: invalid value 'amd64'");

    CliRun url = CliRun.of("connector-config", "--server-url", "weighbridge:8080");
    assertThat(url.code()).isEqualTo(2);
    assertThat(url.err()).contains("--server-url: invalid value 'weighbridge:8080'");

    CliRun name =
        CliRun.of("connector-config", "--plugin-name", "bad name", "--connector-file", "/dev/null");
    assertThat(name.code()).isEqualTo(2);
    assertThat(name.err()).contains("does not match Argo's pattern");
  }

  private String start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          String path = exchange.getRequestURI().getPath();
          requested.add(path);
          String body = served.get(path);
          byte[] bytes =
              (body == null ? "no such connector here\n" : body).getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(body == null ? 404 : 200, bytes.length);
          exchange.getResponseBody().write(bytes);
          exchange.close();
        });
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }
}
