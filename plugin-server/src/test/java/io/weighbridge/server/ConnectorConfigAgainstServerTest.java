package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.cli.CliRun;
import io.weighbridge.fixtures.RecordingRouter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's {@code connector-config --server-url} against a real {@link PluginServer} serving
 * connector downloads from a temporary {@code --connector-dir}: the two sides were built apart,
 * this proves the digest the CLI prints is the served file's and the location is the download URL.
 */
class ConnectorConfigAgainstServerTest {

  private static final Pattern LOCATION = Pattern.compile("(?m)^\\s*location: \"([^\"]+)\"$");
  private static final Pattern SHA256 = Pattern.compile("(?m)^\\s*sha256: \"([0-9a-f]+)\"$");

  @TempDir Path connectorDir;

  private final HttpClient http = HttpClient.newHttpClient();
  private PluginServer server;
  private String url;

  @BeforeEach
  void start() {
    server =
        new PluginServer(
            ServerConfig.parse(
                new String[] {
                  "--grpc-port=0",
                  "--http-port=0",
                  "--bind-address=127.0.0.1",
                  "--auth-mode=none",
                  "--connector-dir=" + connectorDir
                },
                Map.of()),
            new RecordingRouter(),
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    server.start();
    url = "http://127.0.0.1:" + server.httpPort();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private CliRun cli(String... args) {
    return CliRun.of(http, args);
  }

  private static String only(Pattern p, String text) {
    Matcher m = p.matcher(text);
    assertThat(m.find()).as("%s in:%n%s", p, text).isTrue();
    String first = m.group(1);
    while (m.find()) {
      assertThat(m.group(1)).as("every occurrence of %s", p).isEqualTo(first);
    }
    return first;
  }

  @Test
  @DisplayName(
      "When the server serves a connector, then connector-config prints its sha256 and the"
          + " /connector URL, and that URL downloads exactly the file the digest is of")
  void digestAndLocationMatchTheServedFile() throws Exception {
    byte[] binary = new byte[100_000];
    new java.util.Random(7).nextBytes(binary);
    Files.write(connectorDir.resolve("weighbridge-connector-linux-arm64"), binary);
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(binary));

    CliRun run = cli("connector-config", "--server-url", url, "--arch", "linux-arm64");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(only(SHA256, run.out())).isEqualTo(expected);
    String location = only(LOCATION, run.out());
    assertThat(location).isEqualTo(url + "/connector/linux-arm64");
    HttpResponse<byte[]> download =
        http.send(
            HttpRequest.newBuilder(URI.create(location)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(download.statusCode()).isEqualTo(200);
    assertThat(download.body()).isEqualTo(binary);
    assertThat(run.out())
        .contains("- \"--server=127.0.0.1:9090\"")
        .as("plugin-server authenticates by default, so the connector must send a token")
        .contains("- \"--token-file=/var/run/secrets/kubernetes.io/serviceaccount/token\"");
  }

  @Test
  @DisplayName(
      "When --token-file is empty (a server with --auth-mode=none), then the connector gets no"
          + " token argument; one given with --connector-arg is not doubled")
  void tokenFileChoices() throws Exception {
    Files.write(connectorDir.resolve("weighbridge-connector-linux-amd64"), new byte[] {1, 2, 3});

    CliRun none = cli("connector-config", "--server-url", url, "--token-file=", "-o", "helm");
    CliRun own =
        cli(
            "connector-config",
            "--server-url",
            url,
            "--connector-arg=--token-file=/var/run/secrets/weighbridge/token",
            "-o",
            "helm");

    assertThat(none.code()).as(none.err()).isZero();
    assertThat(none.out()).doesNotContain("--token-file");
    assertThat(own.code()).as(own.err()).isZero();
    assertThat(own.out())
        .contains("- \"--token-file=/var/run/secrets/weighbridge/token\"")
        .doesNotContain("serviceaccount/token");
  }

  @Test
  @DisplayName(
      "When the server has no connector for the platform, then connector-config fails with the"
          + " server's 404 text and how to proceed, and prints no configuration")
  void missingConnector() {
    CliRun run = cli("connector-config", "--server-url", url, "--arch", "linux-amd64");

    assertThat(run.code()).isEqualTo(1);
    assertThat(run.out()).doesNotContain("sha256:");
    assertThat(run.err())
        .contains(url + "/connector/linux-amd64.sha256 answered HTTP 404")
        .contains("no connector for linux-amd64 in " + connectorDir + " (--connector-dir)")
        .contains("--connector-file");
  }
}
