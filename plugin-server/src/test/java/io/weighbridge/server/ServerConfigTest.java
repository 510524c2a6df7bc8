package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weighbridge.domain.auth.ServiceAccount;
import io.weighbridge.server.ServerConfig.AuthMode;
import io.weighbridge.server.ServerConfig.InformerScope;
import io.weighbridge.server.ServerConfig.LogFormat;
import io.weighbridge.server.ServerConfig.LogLevel;
import io.weighbridge.server.ServerConfig.Security;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServerConfigTest {

  /** Where no ServiceAccount token is, so that the auth mode defaults to none. */
  private static final Path NO_TOKEN = Path.of("/nonexistent/weighbridge-test/token");

  private static ServerConfig parse(String... args) {
    return ServerConfig.parse(args, Map.of(), NO_TOKEN);
  }

  @Test
  @DisplayName("When nothing is set, then the documented defaults apply")
  void defaults() {
    ServerConfig config = parse();

    assertThat(config)
        .isEqualTo(
            new ServerConfig(
                9090,
                8080,
                "0.0.0.0",
                Optional.empty(),
                List.of("weighbridge/gateway-api", "argoproj-labs/gatewayAPI"),
                LogFormat.TEXT,
                LogLevel.INFO,
                Duration.ofSeconds(14),
                Duration.ofSeconds(10),
                16 * 1024 * 1024,
                Optional.empty(),
                InformerScope.CLUSTER,
                Duration.ofSeconds(10),
                Duration.ofSeconds(1),
                Security.defaults(AuthMode.NONE),
                Path.of("/opt/weighbridge/connector"),
                new ServerConfig.AnalyzerOptions(
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    Duration.ofSeconds(5),
                    Duration.ofSeconds(2),
                    true,
                    "argo-rollouts")));
    assertThat(ServerConfig.defaults())
        .isEqualTo(
            ServerConfig.parse(
                new String[] {
                  "--auth-mode="
                      + (Files.exists(ServerConfig.SERVICE_ACCOUNT_TOKEN) ? "tokenreview" : "none")
                },
                Map.of()));
  }

  @Test
  @DisplayName("When every flag is set, then every value is taken")
  void everyFlag(@TempDir Path dir) throws IOException {
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), "apiVersion: v1\n");

    ServerConfig config =
        parse(
            "--grpc-port=1",
            "--http-port=2",
            "--bind-address=127.0.0.1",
            "--kubeconfig=" + kubeconfig,
            "--accepted-plugin-names= a/b , c-d/e_f.g ",
            "--log-format=json",
            "--log-level=DEBUG",
            "--call-timeout=500ms",
            "--shutdown-grace=0s",
            "--max-message-size=64KiB",
            "--kube-context=kind-dev",
            "--informer-scope=namespace",
            "--lock-timeout=400ms",
            "--drift-min-interval=0s",
            "--prometheus-url=https://prom.example:9091/sub",
            "--prometheus-bearer-token-file=" + kubeconfig,
            "--prometheus-ca-file=" + kubeconfig,
            "--prometheus-timeout=3s",
            "--analysis-interval=1s",
            "--leader-election=false",
            "--leader-election-namespace=ops");

    assertThat(config)
        .isEqualTo(
            new ServerConfig(
                1,
                2,
                "127.0.0.1",
                Optional.of(kubeconfig),
                List.of("a/b", "c-d/e_f.g"),
                LogFormat.JSON,
                LogLevel.DEBUG,
                Duration.ofMillis(500),
                Duration.ZERO,
                64 * 1024,
                Optional.of("kind-dev"),
                InformerScope.NAMESPACE,
                Duration.ofMillis(400),
                Duration.ZERO,
                Security.defaults(AuthMode.NONE),
                Path.of("/opt/weighbridge/connector"),
                new ServerConfig.AnalyzerOptions(
                    Optional.of(java.net.URI.create("https://prom.example:9091/sub")),
                    Optional.of(kubeconfig),
                    Optional.of(kubeconfig),
                    Duration.ofSeconds(3),
                    Duration.ofSeconds(1),
                    false,
                    "ops")));
  }

  @Test
  @DisplayName("When analyzer flags are wrong, then the error names the flag and the fix")
  void badAnalyzerFlags() {
    assertThatThrownBy(() -> parse("--prometheus-url=prometheus:9090"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--prometheus-url")
        .hasMessageContaining("http://");
    assertThatThrownBy(() -> parse("--leader-election=yes"))
        .hasMessageContaining("--leader-election")
        .hasMessageContaining("true or false");
    assertThatThrownBy(() -> parse("--leader-election-namespace=Bad_NS"))
        .hasMessageContaining("namespace name");
    assertThatThrownBy(() -> parse("--prometheus-ca-file=/nonexistent/ca.pem"))
        .hasMessageContaining("no readable file");
    assertThatThrownBy(() -> parse("--analysis-interval=0s"))
        .hasMessageContaining("positive duration");
  }

  @Test
  void flagValueMayFollowAsTheNextArgument() {
    assertThat(parse("--grpc-port", "0", "--call-timeout", "2m").callTimeout())
        .isEqualTo(Duration.ofMinutes(2));
    assertThat(parse("--grpc-port", "0").grpcPort()).isZero();
  }

  @Test
  @DisplayName("When only the environment sets values, then they are taken")
  void environment() {
    ServerConfig config =
        ServerConfig.parse(
            new String[0],
            Map.ofEntries(
                Map.entry("WEIGHBRIDGE_GRPC_PORT", "7000"),
                Map.entry("WEIGHBRIDGE_HTTP_PORT", "7001"),
                Map.entry("WEIGHBRIDGE_BIND_ADDRESS", "::1"),
                Map.entry("WEIGHBRIDGE_KUBECONFIG", ""),
                Map.entry("WEIGHBRIDGE_ACCEPTED_PLUGIN_NAMES", "x/y"),
                Map.entry("WEIGHBRIDGE_LOG_FORMAT", "json"),
                Map.entry("WEIGHBRIDGE_LOG_LEVEL", "warn"),
                Map.entry("WEIGHBRIDGE_CALL_TIMEOUT", "1h"),
                Map.entry("WEIGHBRIDGE_SHUTDOWN_GRACE", "3s"),
                Map.entry("WEIGHBRIDGE_MAX_MESSAGE_SIZE", "2048"),
                Map.entry("WEIGHBRIDGE_KUBE_CONTEXT", "prod"),
                Map.entry("WEIGHBRIDGE_INFORMER_SCOPE", "NAMESPACE"),
                Map.entry("WEIGHBRIDGE_LOCK_TIMEOUT", "30s"),
                Map.entry("WEIGHBRIDGE_DRIFT_MIN_INTERVAL", "5s"),
                Map.entry("WEIGHBRIDGE_PROMETHEUS_URL", "http://prometheus:9090"),
                Map.entry("WEIGHBRIDGE_LEADER_ELECTION", "FALSE")),
            NO_TOKEN);

    assertThat(config)
        .isEqualTo(
            new ServerConfig(
                7000,
                7001,
                "::1",
                Optional.empty(),
                List.of("x/y"),
                LogFormat.JSON,
                LogLevel.WARN,
                Duration.ofHours(1),
                Duration.ofSeconds(3),
                2048,
                Optional.of("prod"),
                InformerScope.NAMESPACE,
                Duration.ofSeconds(30),
                Duration.ofSeconds(5),
                Security.defaults(AuthMode.NONE),
                Path.of("/opt/weighbridge/connector"),
                new ServerConfig.AnalyzerOptions(
                    Optional.of(java.net.URI.create("http://prometheus:9090")),
                    Optional.empty(),
                    Optional.empty(),
                    Duration.ofSeconds(5),
                    Duration.ofSeconds(2),
                    false,
                    "argo-rollouts")));
  }

  @Test
  @DisplayName("When a flag and the environment disagree, then the flag wins")
  void flagsWinOverEnvironment() {
    ServerConfig config =
        ServerConfig.parse(
            new String[] {"--grpc-port=1234"},
            Map.of("WEIGHBRIDGE_GRPC_PORT", "4321", "WEIGHBRIDGE_HTTP_PORT", "8765"));

    assertThat(config.grpcPort()).isEqualTo(1234);
    assertThat(config.httpPort()).isEqualTo(8765);
  }

  @Test
  void laterFlagWins() {
    assertThat(parse("--grpc-port=1", "--grpc-port=2").grpcPort()).isEqualTo(2);
  }

  @Test
  void duplicatePluginNamesCollapse() {
    assertThat(parse("--accepted-plugin-names=a/b,a/b").acceptedPluginNames())
        .containsExactly("a/b");
  }

  @ParameterizedTest(name = "{0}={1}")
  @DisplayName("When a value is invalid, then the message names the flag, the value and the form")
  @CsvSource(
      delimiter = '|',
      value = {
        "grpc-port|x|a TCP port from 0 to 65535",
        "grpc-port|-1|a TCP port from 0 to 65535",
        "grpc-port|65536|a TCP port from 0 to 65535",
        "http-port|''|a TCP port from 0 to 65535",
        "http-port|80.5|a TCP port from 0 to 65535",
        "bind-address|''|an IP address or host name",
        "bind-address|a b|an IP address or host name",
        "kubeconfig|/nonexistent/kubeconfig|a readable kubeconfig file",
        "accepted-plugin-names|''|<org>/<name>",
        "accepted-plugin-names|gatewayAPI|<org>/<name>",
        "accepted-plugin-names|a/b,,c/d|<org>/<name>",
        "accepted-plugin-names|a/b/c|<org>/<name>",
        "log-format|xml|one of text, json",
        "log-level|verbose|one of trace, debug, info, warn, error",
        "call-timeout|14|a positive duration",
        "call-timeout|0s|a positive duration",
        "call-timeout|-1s|a positive duration",
        "call-timeout|1.5s|a positive duration",
        "call-timeout|PT14S|a positive duration",
        "shutdown-grace|10 s|a duration",
        "shutdown-grace|soon|a duration",
        "max-message-size|16MB|a size from 1KiB to 2047MiB",
        "max-message-size|1023|a size from 1KiB to 2047MiB",
        "max-message-size|2048MiB|a size from 1KiB to 2047MiB",
        "max-message-size|-5|a size from 1KiB to 2047MiB",
        "kube-context|a b|the name of a context",
        "informer-scope|namespaces|one of cluster, namespace",
        "lock-timeout|0s|a positive duration",
        "lock-timeout|14s|a duration below --call-timeout (14s)",
        "drift-min-interval|1|a duration",
      })
  void invalidValues(String flag, String value, String expected) {
    assertThatThrownBy(() -> parse("--" + flag + "=" + value))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--" + flag + ": invalid value '" + value + "': expected ")
        .hasMessageContaining(expected);
  }

  @Test
  @DisplayName(
      "When only --call-timeout is lowered below the default lock timeout, then the lock timeout"
          + " follows it; set explicitly at or above it, it is refused")
  void lockTimeoutFollowsCallTimeout() {
    assertThat(parse("--call-timeout=4s").lockTimeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(parse("--call-timeout=5s", "--lock-timeout=4s").lockTimeout())
        .isEqualTo(Duration.ofSeconds(4));
    assertThatThrownBy(() -> parse("--call-timeout=5s", "--lock-timeout=5s"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "--lock-timeout: invalid value '5s': expected a duration below --call-timeout (5s)");
  }

  @Test
  @DisplayName("When an environment value is invalid, then the message names the variable")
  void invalidEnvironmentValue() {
    assertThatThrownBy(
            () -> ServerConfig.parse(new String[0], Map.of("WEIGHBRIDGE_CALL_TIMEOUT", "forever")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "WEIGHBRIDGE_CALL_TIMEOUT (--call-timeout): invalid value 'forever': expected a"
                + " positive duration");
  }

  @Test
  void unknownFlag() {
    assertThatThrownBy(() -> parse("--grpc-prot=1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unknown flag --grpc-prot; run with --help to list the flags");
  }

  @Test
  void positionalArgument() {
    assertThatThrownBy(() -> parse("9090"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("unexpected argument '9090'");
    assertThatThrownBy(() -> parse("--"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("unexpected argument '--'");
  }

  @Test
  void flagWithoutValue() {
    assertThatThrownBy(() -> parse("--grpc-port"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--grpc-port needs a value, e.g. --grpc-port=9090");
  }

  @Test
  void helpIsRecognisedAndLeftToMain() {
    assertThat(ServerConfig.helpRequested(new String[] {"--grpc-port=1", "--help"})).isTrue();
    assertThat(ServerConfig.helpRequested(new String[] {"-h"})).isTrue();
    assertThat(ServerConfig.helpRequested(new String[] {"--grpc-port=1"})).isFalse();
    assertThat(parse("--help")).isEqualTo(parse());
  }

  @Test
  @DisplayName("When --help is asked, then every flag, its variable and default are listed")
  void usageListsEveryFlag() {
    String usage = ServerConfig.usage();

    for (String key : ServerConfig.defaults().effectiveValues().keySet()) {
      assertThat(usage).contains("--" + key);
    }
    for (String key : ServerConfig.defaults().effectiveValues().keySet()) {
      assertThat(usage)
          .as("--%s names its variable", key)
          .contains(ServerFlags.env("--" + key) + ", default");
    }
    assertThat(usage)
        .startsWith("Usage: java -jar weighbridge-plugin-server.jar")
        .contains("env WEIGHBRIDGE_GRPC_PORT, default \"9090\"")
        .contains("env WEIGHBRIDGE_MAX_MESSAGE_SIZE, default \"16MiB\"")
        .contains("--help");
  }

  @Test
  void effectiveValuesAreWrittenAsTheFlagsAre() {
    assertThat(parse("--call-timeout=1500ms", "--max-message-size=3000").effectiveValues())
        .containsEntry("grpc-port", "9090")
        .containsEntry("kubeconfig", "(in-cluster or default)")
        .containsEntry("accepted-plugin-names", "weighbridge/gateway-api,argoproj-labs/gatewayAPI")
        .containsEntry("log-format", "text")
        .containsEntry("log-level", "info")
        .containsEntry("call-timeout", "1500ms")
        .containsEntry("shutdown-grace", "10s")
        .containsEntry("max-message-size", "3000")
        .containsEntry("kube-context", "(current)")
        .containsEntry("informer-scope", "cluster")
        .containsEntry("lock-timeout", "1125ms")
        .containsEntry("drift-min-interval", "1s");
  }

  @Test
  void recordCopiesThePluginNames() {
    var names = new java.util.ArrayList<>(List.of("a/b"));
    ServerConfig config =
        new ServerConfig(
            0,
            0,
            "x",
            Optional.empty(),
            names,
            LogFormat.TEXT,
            LogLevel.INFO,
            Duration.ofSeconds(1),
            Duration.ZERO,
            1024,
            Optional.empty(),
            InformerScope.CLUSTER,
            Duration.ofMillis(500),
            Duration.ZERO,
            Security.defaults(AuthMode.NONE),
            Path.of("/tmp"),
            ServerConfig.defaults().analyzer());
    names.add("c/d");

    assertThat(config.acceptedPluginNames()).containsExactly("a/b");
  }

  @Test
  @DisplayName("When no auth mode is set, then it is tokenreview in a Pod and none elsewhere")
  void authModeFollowsTheServiceAccountTokenFile(@TempDir Path dir) throws IOException {
    Path token = Files.writeString(dir.resolve("token"), "x");

    assertThat(ServerConfig.parse(new String[0], Map.of(), token).security().authMode())
        .isEqualTo(AuthMode.TOKENREVIEW);
    assertThat(parse().security().authMode()).isEqualTo(AuthMode.NONE);
    assertThat(
            ServerConfig.parse(new String[] {"--auth-mode=none"}, Map.of(), token)
                .security()
                .authMode())
        .isEqualTo(AuthMode.NONE);
    assertThat(parse("--auth-mode=TokenReview").security().authMode())
        .isEqualTo(AuthMode.TOKENREVIEW);
  }

  @Test
  @DisplayName("When the security flags are set, then they are taken")
  void securityFlags(@TempDir Path dir) throws IOException {
    Path cert = Files.writeString(dir.resolve("tls.crt"), "cert");
    Path key = Files.writeString(dir.resolve("tls.key"), "key");

    ServerConfig config =
        ServerConfig.parse(
            new String[] {
              "--auth-mode=tokenreview",
              "--allowed-service-accounts= argo-rollouts:argo-rollouts , ops:rollouts-ci ",
              "--tls-cert-file=" + cert,
              "--tls-key-file=" + key,
              "--connector-dir=" + dir
            },
            Map.of("WEIGHBRIDGE_AUTH_AUDIENCES", "weighbridge,other"),
            NO_TOKEN);

    assertThat(config.security())
        .isEqualTo(
            new Security(
                AuthMode.TOKENREVIEW,
                List.of(
                    new ServiceAccount("argo-rollouts", "argo-rollouts"),
                    new ServiceAccount("ops", "rollouts-ci")),
                List.of("weighbridge", "other"),
                Optional.of(cert),
                Optional.of(key)));
    assertThat(config.security().tls()).isTrue();
    assertThat(config.connectorDir()).isEqualTo(dir);
    assertThat(config.effectiveValues())
        .containsEntry("auth-mode", "tokenreview")
        .containsEntry("allowed-service-accounts", "argo-rollouts:argo-rollouts,ops:rollouts-ci")
        .containsEntry("auth-audiences", "weighbridge,other")
        .containsEntry("tls-cert-file", cert.toString())
        .containsEntry("connector-dir", dir.toString());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          --auth-mode=maybe                       | --auth-mode: invalid value 'maybe': expected one of tokenreview, none
          --allowed-service-accounts=argo-rollouts | --allowed-service-accounts: invalid value 'argo-rollouts': expected a comma-separated list of <namespace>:<name>
          --allowed-service-accounts=Argo:x       | expected a comma-separated list of <namespace>:<name> service accounts
          --allowed-service-accounts=,            | expected at least one <namespace>:<name> service account
          --tls-cert-file=/nonexistent/tls.crt    | --tls-cert-file: invalid value '/nonexistent/tls.crt': expected a PEM certificate file (no readable file is there)
          """)
  @DisplayName("When a security flag is invalid, then the error names the flag and the fix")
  void invalidSecurityFlags(String arg, String message) {
    assertThatThrownBy(() -> parse(arg))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  @DisplayName("When only one of the TLS files is set, then both are asked for")
  void tlsNeedsBothFiles(@TempDir Path dir) throws IOException {
    Path cert = Files.writeString(dir.resolve("tls.crt"), "cert");

    assertThatThrownBy(() -> parse("--tls-cert-file=" + cert))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--tls-cert-file and --tls-key-file go together");
  }
}
