package io.weighbridge.server;

import io.weighbridge.domain.auth.ServiceAccount;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * plugin-server's configuration, read once at start from flags and {@code WEIGHBRIDGE_*}
 * environment variables (flags win; picocli options, see {@link ServerFlags}). Build it with {@link
 * #parse(String[], Map)}.
 *
 * @param grpcPort TCP port of the gRPC server; 0 picks a free port
 * @param httpPort TCP port of the HTTP server (/healthz, /readyz, /metrics); 0 picks a free port
 * @param bindAddress the address both servers listen on
 * @param kubeconfig the kubeconfig file to use; empty means in-cluster or default discovery
 * @param acceptedPluginNames the Argo plugin names a connector may call as
 * @param logFormat text or JSON log lines
 * @param logLevel the level of Weighbridge's own loggers
 * @param callTimeout the server-side bound of every call (kept below the connector's 15 s)
 * @param shutdownGrace how long in-flight calls may run on after a shutdown request
 * @param maxMessageSize the largest gRPC request accepted, in bytes (a Rollout travels as JSON)
 * @param kubeContext the kubeconfig context to use; empty means the kubeconfig's current context
 * @param informerScope whether one route informer covers all namespaces (needs a ClusterRole) or
 *     one informer runs per namespace in use (works with namespaced Roles)
 * @param lockTimeout how long a call waits for another call on the same route before it fails
 * @param driftMinInterval the least time between two drift restorations of one route
 * @param security who may call the gRPC port, and whether it speaks TLS
 * @param connectorDir where the connector binaries served at {@code /connector/<os>-<arch>} are
 * @param analyzer the canary analyzer's settings (Prometheus, evaluation interval, leader election)
 */
public record ServerConfig(
    int grpcPort,
    int httpPort,
    String bindAddress,
    Optional<Path> kubeconfig,
    List<String> acceptedPluginNames,
    LogFormat logFormat,
    LogLevel logLevel,
    Duration callTimeout,
    Duration shutdownGrace,
    int maxMessageSize,
    Optional<String> kubeContext,
    InformerScope informerScope,
    Duration lockTimeout,
    Duration driftMinInterval,
    Security security,
    Path connectorDir,
    AnalyzerOptions analyzer) {

  private static final int KIB = 1024;
  private static final int MIB = 1024 * 1024;

  /** Copies the collections and rejects missing values. */
  public ServerConfig {
    Objects.requireNonNull(bindAddress, "bindAddress");
    Objects.requireNonNull(kubeconfig, "kubeconfig");
    acceptedPluginNames = List.copyOf(acceptedPluginNames);
    Objects.requireNonNull(logFormat, "logFormat");
    Objects.requireNonNull(logLevel, "logLevel");
    Objects.requireNonNull(callTimeout, "callTimeout");
    Objects.requireNonNull(shutdownGrace, "shutdownGrace");
    Objects.requireNonNull(kubeContext, "kubeContext");
    Objects.requireNonNull(informerScope, "informerScope");
    Objects.requireNonNull(lockTimeout, "lockTimeout");
    Objects.requireNonNull(driftMinInterval, "driftMinInterval");
    Objects.requireNonNull(security, "security");
    Objects.requireNonNull(connectorDir, "connectorDir");
    Objects.requireNonNull(analyzer, "analyzer");
  }

  /** Where a Pod's ServiceAccount token is mounted; its presence makes tokenreview the default. */
  public static final Path SERVICE_ACCOUNT_TOKEN =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

  /** How callers of the gRPC port are authenticated. */
  public enum AuthMode {
    /** Every call must carry an allowed ServiceAccount's token, verified by a TokenReview. */
    TOKENREVIEW,
    /** No authentication: whoever reaches the gRPC port may move traffic. */
    NONE
  }

  /**
   * Who may call the gRPC port, and whether it speaks TLS.
   *
   * @param authMode how callers are authenticated
   * @param allowedServiceAccounts the ServiceAccounts whose tokens are admitted
   * @param authAudiences the audiences a token must carry one of; empty means the API server's
   * @param tlsCertFile the PEM certificate chain of the gRPC port; empty means plaintext
   * @param tlsKeyFile the PEM private key of that certificate
   */
  public record Security(
      AuthMode authMode,
      List<ServiceAccount> allowedServiceAccounts,
      List<String> authAudiences,
      Optional<Path> tlsCertFile,
      Optional<Path> tlsKeyFile) {

    /** Copies the lists and rejects half a TLS setting. */
    public Security {
      Objects.requireNonNull(authMode, "authMode");
      allowedServiceAccounts = List.copyOf(allowedServiceAccounts);
      authAudiences = List.copyOf(authAudiences);
      Objects.requireNonNull(tlsCertFile, "tlsCertFile");
      Objects.requireNonNull(tlsKeyFile, "tlsKeyFile");
      if (tlsCertFile.isPresent() != tlsKeyFile.isPresent()) {
        throw new IllegalArgumentException(
            "--tls-cert-file and --tls-key-file go together: set both for TLS, or neither for"
                + " plaintext");
      }
      if (authMode == AuthMode.TOKENREVIEW && allowedServiceAccounts.isEmpty()) {
        throw new IllegalArgumentException(
            "--auth-mode=tokenreview needs at least one --allowed-service-accounts entry");
      }
    }

    /** The defaults with the given mode: Argo's controller allowed, any audience, no TLS. */
    public static Security defaults(AuthMode mode) {
      return new Security(
          mode,
          List.of(new ServiceAccount("argo-rollouts", "argo-rollouts")),
          List.of(),
          Optional.empty(),
          Optional.empty());
    }

    /** True when the gRPC port speaks TLS. */
    public boolean tls() {
      return tlsCertFile.isPresent();
    }
  }

  /** Where the Pod's namespace is, in a Pod with a ServiceAccount. */
  static final Path SERVICE_ACCOUNT_NAMESPACE =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/namespace");

  /**
   * The canary analyzer's server-side settings.
   *
   * @param prometheusUrl Prometheus' base URL; empty disables the analyzer (logged loudly)
   * @param prometheusBearerTokenFile a file whose content is sent as {@code Authorization: Bearer}
   *     (read at start)
   * @param prometheusCaFile a PEM CA bundle for https with a private CA
   * @param prometheusTimeout the bound of one query
   * @param interval time between two evaluations of each analysed Rollout
   * @param leaderElection whether replicas elect one analyzer with a Lease (off: every replica
   *     acts)
   * @param leaderElectionNamespace the Lease's namespace
   */
  public record AnalyzerOptions(
      Optional<java.net.URI> prometheusUrl,
      Optional<Path> prometheusBearerTokenFile,
      Optional<Path> prometheusCaFile,
      Duration prometheusTimeout,
      Duration interval,
      boolean leaderElection,
      String leaderElectionNamespace) {

    /** Checks the parts. */
    public AnalyzerOptions {
      Objects.requireNonNull(prometheusUrl, "prometheusUrl");
      Objects.requireNonNull(prometheusBearerTokenFile, "prometheusBearerTokenFile");
      Objects.requireNonNull(prometheusCaFile, "prometheusCaFile");
      Objects.requireNonNull(prometheusTimeout, "prometheusTimeout");
      Objects.requireNonNull(interval, "interval");
      Objects.requireNonNull(leaderElectionNamespace, "leaderElectionNamespace");
    }
  }

  /** Which namespaces one route informer covers. */
  public enum InformerScope {
    /** One informer per route kind for all namespaces: fewest watches; needs a ClusterRole. */
    CLUSTER,
    /** One informer per route kind and namespace in use: works with namespaced Roles only. */
    NAMESPACE
  }

  /** The format of log lines. */
  public enum LogFormat {
    /** Human-readable lines. */
    TEXT,
    /** One JSON object per line (Logback's JsonEncoder), for log collectors. */
    JSON
  }

  /** The level of Weighbridge's own loggers. */
  public enum LogLevel {
    /** Everything. */
    TRACE,
    /** Every call, with its duration. */
    DEBUG,
    /** Start, stop and notable events. */
    INFO,
    /** Failed calls and problems. */
    WARN,
    /** Only internal errors. */
    ERROR
  }

  /** The configuration with every default. */
  public static ServerConfig defaults() {
    return parse(new String[0], Map.of());
  }

  /** True when the arguments ask for the usage text ({@code --help} or {@code -h}). */
  public static boolean helpRequested(String[] args) {
    return Arrays.stream(args).anyMatch(a -> a.equals("--help") || a.equals("-h"));
  }

  /**
   * Reads the configuration from flags ({@code --name=value} or {@code --name value}) and the
   * environment ({@code WEIGHBRIDGE_NAME}); a flag wins over the environment, which wins over the
   * default. {@code --help} is ignored here: check {@link #helpRequested(String[])} first. The
   * flags are picocli options ({@link ServerFlags}), as the CLI's are.
   *
   * @throws IllegalArgumentException naming the flag, the bad value and the accepted form
   */
  public static ServerConfig parse(String[] args, Map<String, String> env) {
    return parse(args, env, SERVICE_ACCOUNT_TOKEN);
  }

  /** {@link #parse(String[], Map)} with the ServiceAccount token path that picks the auth mode. */
  static ServerConfig parse(String[] args, Map<String, String> env, Path serviceAccountToken) {
    return ServerFlags.parse(args, env, serviceAccountToken);
  }

  /** The usage text printed by {@code --help} (picocli's, as the CLI's commands print). */
  public static String usage() {
    return ServerFlags.usage(Map.of());
  }

  /** The effective values by flag name, in a stable order, for the start-up log line. */
  public Map<String, String> effectiveValues() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put("grpc-port", Integer.toString(grpcPort));
    values.put("http-port", Integer.toString(httpPort));
    values.put("bind-address", bindAddress);
    values.put("kubeconfig", kubeconfig.map(Path::toString).orElse("(in-cluster or default)"));
    values.put("accepted-plugin-names", String.join(",", acceptedPluginNames));
    values.put("log-format", logFormat.name().toLowerCase(Locale.ROOT));
    values.put("log-level", logLevel.name().toLowerCase(Locale.ROOT));
    values.put("call-timeout", formatDuration(callTimeout));
    values.put("shutdown-grace", formatDuration(shutdownGrace));
    values.put("max-message-size", formatSize(maxMessageSize));
    values.put("kube-context", kubeContext.orElse("(current)"));
    values.put("informer-scope", informerScope.name().toLowerCase(Locale.ROOT));
    values.put("lock-timeout", formatDuration(lockTimeout));
    values.put("drift-min-interval", formatDuration(driftMinInterval));
    values.put("auth-mode", security.authMode().name().toLowerCase(Locale.ROOT));
    values.put(
        "allowed-service-accounts",
        security.allowedServiceAccounts().stream()
            .map(ServiceAccount::toString)
            .collect(Collectors.joining(",")));
    values.put(
        "auth-audiences",
        security.authAudiences().isEmpty()
            ? "(the API server's)"
            : String.join(",", security.authAudiences()));
    values.put("tls-cert-file", security.tlsCertFile().map(Path::toString).orElse("(plaintext)"));
    values.put("tls-key-file", security.tlsKeyFile().map(Path::toString).orElse(""));
    values.put("connector-dir", connectorDir.toString());
    values.put(
        "prometheus-url",
        analyzer.prometheusUrl().map(Object::toString).orElse("(none: analyzer off)"));
    values.put(
        "prometheus-bearer-token-file",
        analyzer.prometheusBearerTokenFile().map(Path::toString).orElse("(none)"));
    values.put(
        "prometheus-ca-file",
        analyzer.prometheusCaFile().map(Path::toString).orElse("(JDK trust store)"));
    values.put("prometheus-timeout", formatDuration(analyzer.prometheusTimeout()));
    values.put("analysis-interval", formatDuration(analyzer.interval()));
    values.put("leader-election", Boolean.toString(analyzer.leaderElection()));
    values.put("leader-election-namespace", analyzer.leaderElectionNamespace());
    return values;
  }

  /** {@code 14s}, {@code 250ms}: the form the flags take. */
  public static String formatDuration(Duration duration) {
    long millis = duration.toMillis();
    return millis % 1000 == 0 ? (millis / 1000) + "s" : millis + "ms";
  }

  static String formatSize(int bytes) {
    if (bytes % MIB == 0) {
      return (bytes / MIB) + "MiB";
    }
    return bytes % KIB == 0 ? (bytes / KIB) + "KiB" : Integer.toString(bytes);
  }
}
