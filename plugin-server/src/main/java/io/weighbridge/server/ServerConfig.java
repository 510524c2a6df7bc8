package io.weighbridge.server;

import io.weighbridge.domain.auth.ServiceAccount;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * plugin-server's configuration, read once at start from flags and {@code WEIGHBRIDGE_*}
 * environment variables (flags win). Build it with {@link #parse(String[], Map)}.
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

  /** Argo's own rule for a plugin name (argo-rollouts utils/plugin). */
  private static final Pattern PLUGIN_NAME = Pattern.compile("^([a-zA-Z0-9-]+)/([a-zA-Z0-9_.-]+)$");

  private static final Pattern DURATION = Pattern.compile("^(\\d{1,9})(ms|s|m|h)$");
  private static final Pattern SIZE = Pattern.compile("^(\\d{1,10})(B|KiB|MiB)?$");
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

  /** Every key: its flag name, default value and meaning. Env var: WEIGHBRIDGE_UPPER_SNAKE. */
  private enum Key {
    GRPC_PORT(
        "grpc-port",
        "9090",
        "TCP port of the gRPC server the connector calls; 0 picks a free port"),
    HTTP_PORT(
        "http-port",
        "8080",
        "TCP port of /healthz, /readyz, /metrics, /api/v1/analyses and /connector/; 0 picks a free"
            + " port"),
    BIND_ADDRESS("bind-address", "0.0.0.0", "address both servers listen on"),
    KUBECONFIG("kubeconfig", "", "kubeconfig file; empty means in-cluster or default discovery"),
    ACCEPTED_PLUGIN_NAMES(
        "accepted-plugin-names",
        "weighbridge/gateway-api,argoproj-labs/gatewayAPI",
        "comma-separated Argo plugin names a connector may call as"),
    LOG_FORMAT("log-format", "text", "text or json"),
    LOG_LEVEL(
        "log-level",
        "info",
        "trace, debug, info, warn or error for Weighbridge's loggers (libraries log at info or above)"),
    CALL_TIMEOUT(
        "call-timeout",
        "14s",
        "bound of every call, answered DEADLINE_EXCEEDED past it (keep below the connector's 15s)"),
    SHUTDOWN_GRACE(
        "shutdown-grace", "10s", "how long in-flight calls may finish after SIGTERM (0s: none)"),
    MAX_MESSAGE_SIZE(
        "max-message-size", "16MiB", "largest gRPC request accepted (bytes, or with KiB/MiB)"),
    KUBE_CONTEXT("kube-context", "", "kubeconfig context to use; empty means its current context"),
    INFORMER_SCOPE(
        "informer-scope",
        "cluster",
        "cluster: one watch per route kind for all namespaces (needs a ClusterRole with"
            + " list/watch); namespace: one watch per route kind and namespace in use (works with"
            + " namespaced Roles)"),
    LOCK_TIMEOUT(
        "lock-timeout",
        "10s",
        "how long a call waits for another call on the same route before failing; must be below"
            + " --call-timeout (when left unset and --call-timeout is lower, 3/4 of it)"),
    DRIFT_MIN_INTERVAL(
        "drift-min-interval",
        "1s",
        "least time between two restorations of one route's weights changed by someone else, so a"
            + " tool fighting over them cannot make us write in a loop (0s: no limit)"),
    AUTH_MODE(
        "auth-mode",
        "",
        "tokenreview: every gRPC call must carry the bearer token of an allowed service account,"
            + " verified with a Kubernetes TokenReview; none: no authentication. Default:"
            + " tokenreview when running in a Pod (its ServiceAccount token file exists), else none"),
    ALLOWED_SERVICE_ACCOUNTS(
        "allowed-service-accounts",
        "argo-rollouts:argo-rollouts",
        "comma-separated <namespace>:<name> of the service accounts whose tokens are admitted"
            + " (the Argo Rollouts controller's)"),
    AUTH_AUDIENCES(
        "auth-audiences",
        "",
        "comma-separated audiences a token must be issued for (a projected token's audience);"
            + " empty: the API server's own, which the default service-account token carries"),
    TLS_CERT_FILE(
        "tls-cert-file",
        "",
        "PEM certificate (chain) of the gRPC port; set with --tls-key-file for TLS, re-read when"
            + " it changes; empty: plaintext"),
    TLS_KEY_FILE("tls-key-file", "", "PEM private key of --tls-cert-file (PKCS#8)"),
    CONNECTOR_DIR(
        "connector-dir",
        "/opt/weighbridge/connector",
        "folder with weighbridge-connector-<os>-<arch>, served at"
            + " /connector/<os>-<arch> (and .sha256) on the HTTP port"),
    PROMETHEUS_URL(
        "prometheus-url",
        "",
        "base URL of the Prometheus the canary analyzer queries, e.g."
            + " http://prometheus.monitoring:9090; empty disables the analyzer"),
    PROMETHEUS_BEARER_TOKEN_FILE(
        "prometheus-bearer-token-file",
        "",
        "file whose content is sent to Prometheus as a bearer token; empty for none"),
    PROMETHEUS_CA_FILE(
        "prometheus-ca-file",
        "",
        "PEM CA bundle for an https Prometheus URL with a private CA; empty: the JDK's trust store"),
    PROMETHEUS_TIMEOUT("prometheus-timeout", "5s", "bound of one Prometheus query"),
    ANALYSIS_INTERVAL(
        "analysis-interval",
        "2s",
        "time between two evaluations of each canary (faster than the scrape interval is fine:"
            + " it shortens the time to act after a scrape)"),
    LEADER_ELECTION(
        "leader-election",
        "true",
        "true: replicas elect one analyzer with the Lease weighbridge-analyzer; false: this replica"
            + " analyses and acts alone (run one replica)"),
    LEADER_ELECTION_NAMESPACE(
        "leader-election-namespace",
        "",
        "namespace of the Lease; empty: the Pod's namespace (ServiceAccount), else argo-rollouts");

    final String name;
    final String defaultValue;
    final String help;

    Key(String name, String defaultValue, String help) {
      this.name = name;
      this.defaultValue = defaultValue;
      this.help = help;
    }

    String flag() {
      return "--" + name;
    }

    String env() {
      return "WEIGHBRIDGE_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    static Optional<Key> byName(String name) {
      return Arrays.stream(values()).filter(k -> k.name.equals(name)).findFirst();
    }
  }

  /** A raw value and where it came from, for error messages. */
  private record Raw(String value, String where) {}

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
   * default. {@code --help} is ignored here: check {@link #helpRequested(String[])} first.
   *
   * @throws IllegalArgumentException naming the flag, the bad value and the accepted form
   */
  public static ServerConfig parse(String[] args, Map<String, String> env) {
    return parse(args, env, SERVICE_ACCOUNT_TOKEN);
  }

  /** {@link #parse(String[], Map)} with the ServiceAccount token path that picks the auth mode. */
  static ServerConfig parse(String[] args, Map<String, String> env, Path serviceAccountToken) {
    Map<Key, Raw> raw = new EnumMap<>(Key.class);
    for (Key key : Key.values()) {
      raw.put(key, new Raw(key.defaultValue, key.flag() + " (default)"));
      String fromEnv = env.get(key.env());
      if (fromEnv != null) {
        raw.put(key, new Raw(fromEnv, key.env() + " (" + key.flag() + ")"));
      }
    }
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--help") || arg.equals("-h")) {
        continue;
      }
      if (!arg.startsWith("--") || arg.length() == 2) {
        throw new IllegalArgumentException(
            "unexpected argument '"
                + arg
                + "': plugin-server takes only flags such as --grpc-port=9090; run with --help to"
                + " list them");
      }
      int eq = arg.indexOf('=');
      String name = eq < 0 ? arg.substring(2) : arg.substring(2, eq);
      Key key =
          Key.byName(name)
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "unknown flag --" + name + "; run with --help to list the flags"));
      String value;
      if (eq >= 0) {
        value = arg.substring(eq + 1);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new IllegalArgumentException(
            key.flag() + " needs a value, e.g. " + key.flag() + "=" + key.defaultValue);
      }
      raw.put(key, new Raw(value, key.flag()));
    }
    return new ServerConfig(
        port(raw.get(Key.GRPC_PORT)),
        port(raw.get(Key.HTTP_PORT)),
        bindAddress(raw.get(Key.BIND_ADDRESS)),
        kubeconfig(raw.get(Key.KUBECONFIG)),
        pluginNames(raw.get(Key.ACCEPTED_PLUGIN_NAMES)),
        oneOf(raw.get(Key.LOG_FORMAT), LogFormat.class),
        oneOf(raw.get(Key.LOG_LEVEL), LogLevel.class),
        duration(raw.get(Key.CALL_TIMEOUT), false),
        duration(raw.get(Key.SHUTDOWN_GRACE), true),
        size(raw.get(Key.MAX_MESSAGE_SIZE)),
        kubeContext(raw.get(Key.KUBE_CONTEXT)),
        oneOf(raw.get(Key.INFORMER_SCOPE), InformerScope.class),
        lockTimeout(raw.get(Key.LOCK_TIMEOUT), raw.get(Key.CALL_TIMEOUT)),
        duration(raw.get(Key.DRIFT_MIN_INTERVAL), true),
        security(raw, serviceAccountToken),
        directory(raw.get(Key.CONNECTOR_DIR)),
        analyzerOptions(raw));
  }

  private static Security security(Map<Key, Raw> raw, Path serviceAccountToken) {
    Raw modeRaw = raw.get(Key.AUTH_MODE);
    AuthMode mode =
        modeRaw.value().isBlank()
            ? (Files.exists(serviceAccountToken) ? AuthMode.TOKENREVIEW : AuthMode.NONE)
            : oneOf(modeRaw, AuthMode.class);
    Optional<Path> cert = readableFile(raw.get(Key.TLS_CERT_FILE), "a PEM certificate file");
    Optional<Path> key = readableFile(raw.get(Key.TLS_KEY_FILE), "a PEM private key file");
    return new Security(
        mode,
        serviceAccounts(raw.get(Key.ALLOWED_SERVICE_ACCOUNTS)),
        list(raw.get(Key.AUTH_AUDIENCES)),
        cert,
        key);
  }

  private static List<ServiceAccount> serviceAccounts(Raw raw) {
    Set<ServiceAccount> accounts = new LinkedHashSet<>();
    for (String part : list(raw)) {
      try {
        accounts.add(ServiceAccount.parse(part));
      } catch (IllegalArgumentException e) {
        throw invalid(
            raw,
            "a comma-separated list of <namespace>:<name> service accounts, e.g."
                + " argo-rollouts:argo-rollouts ("
                + e.getMessage()
                + ")");
      }
    }
    if (accounts.isEmpty()) {
      throw invalid(
          raw,
          "at least one <namespace>:<name> service account, e.g. argo-rollouts:argo-rollouts"
              + " (to admit every caller use --auth-mode=none instead)");
    }
    return List.copyOf(accounts);
  }

  private static List<String> list(Raw raw) {
    return Arrays.stream(raw.value().split(","))
        .map(String::trim)
        .filter(part -> !part.isEmpty())
        .distinct()
        .toList();
  }

  private static AnalyzerOptions analyzerOptions(Map<Key, Raw> raw) {
    return new AnalyzerOptions(
        prometheusUrl(raw.get(Key.PROMETHEUS_URL)),
        readableFile(raw.get(Key.PROMETHEUS_BEARER_TOKEN_FILE), "a file with the token"),
        readableFile(raw.get(Key.PROMETHEUS_CA_FILE), "a PEM file with CA certificates"),
        duration(raw.get(Key.PROMETHEUS_TIMEOUT), false),
        duration(raw.get(Key.ANALYSIS_INTERVAL), false),
        bool(raw.get(Key.LEADER_ELECTION)),
        leaderElectionNamespace(raw.get(Key.LEADER_ELECTION_NAMESPACE)));
  }

  private static Optional<java.net.URI> prometheusUrl(Raw raw) {
    String value = raw.value().trim();
    if (value.isEmpty()) {
      return Optional.empty();
    }
    String expected = "an http:// or https:// URL of Prometheus, e.g. http://prometheus:9090";
    try {
      java.net.URI uri = new java.net.URI(value);
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          || uri.getHost() == null) {
        throw invalid(raw, expected);
      }
      return Optional.of(uri);
    } catch (java.net.URISyntaxException e) {
      throw invalid(raw, expected);
    }
  }

  private static Optional<Path> readableFile(Raw raw, String what) {
    String value = raw.value().trim();
    if (value.isEmpty()) {
      return Optional.empty();
    }
    try {
      Path path = Path.of(value);
      if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
        throw invalid(raw, what + " (no readable file is there)");
      }
      return Optional.of(path);
    } catch (InvalidPathException e) {
      throw invalid(raw, what);
    }
  }

  private static Path directory(Raw raw) {
    try {
      return Path.of(raw.value().trim());
    } catch (InvalidPathException e) {
      throw invalid(raw, "a folder path, e.g. /opt/weighbridge/connector");
    }
  }

  private static boolean bool(Raw raw) {
    return switch (raw.value().trim().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw invalid(raw, "true or false");
    };
  }

  private static String leaderElectionNamespace(Raw raw) {
    String value = raw.value().trim();
    if (value.isEmpty()) {
      try {
        if (Files.isReadable(SERVICE_ACCOUNT_NAMESPACE)) {
          String ns = Files.readString(SERVICE_ACCOUNT_NAMESPACE).trim();
          if (!ns.isEmpty()) {
            return ns;
          }
        }
      } catch (java.io.IOException e) {
        // fall through to the default
      }
      return "argo-rollouts";
    }
    if (value.length() > 63 || !value.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?")) {
      throw invalid(
          raw, "a namespace name (lowercase letters, digits and '-'), e.g. argo-rollouts");
    }
    return value;
  }

  private static Optional<String> kubeContext(Raw raw) {
    String value = raw.value().trim();
    if (value.chars().anyMatch(Character::isWhitespace)) {
      throw invalid(raw, "the name of a context in the kubeconfig, or empty for its current one");
    }
    return value.isEmpty() ? Optional.empty() : Optional.of(value);
  }

  /** Must end before the call's own bound, or the caller sees a timeout instead of the reason. */
  private static Duration lockTimeout(Raw raw, Raw callTimeoutRaw) {
    Duration lock = duration(raw, false);
    Duration call = duration(callTimeoutRaw, false);
    if (lock.compareTo(call) >= 0 && raw.where().endsWith("(default)")) {
      // Only --call-timeout was lowered (e.g. in tests): follow it rather than refuse a default.
      return call.multipliedBy(3).dividedBy(4);
    }
    if (lock.compareTo(call) >= 0) {
      throw invalid(
          raw,
          "a duration below --call-timeout ("
              + formatDuration(call)
              + "), so that a call waiting for a busy route fails with that reason rather than a"
              + " bare deadline; e.g. 10s with --call-timeout=14s");
    }
    return lock;
  }

  /** The usage text printed by {@code --help}. */
  public static String usage() {
    StringBuilder text =
        new StringBuilder(
            """
            Usage: java -jar weighbridge-plugin-server.jar [--flag=value ...]

            Weighbridge plugin-server: serves the Weighbridge gRPC contract that the connector
            (run by Argo Rollouts as a traffic-router plugin) forwards every call to.
            Every flag can also be set as an environment variable; a flag wins.
            The same jar is the operator CLI: java -jar weighbridge-plugin-server.jar
            status|plan|connector-config --help (docs/cli.md).

            """);
    for (Key key : Key.values()) {
      text.append(String.format(Locale.ROOT, "  --%s%n", key.name))
          .append(String.format(Locale.ROOT, "      %s%n", key.help))
          .append(
              String.format(
                  Locale.ROOT, "      env %s, default \"%s\"%n", key.env(), key.defaultValue));
    }
    text.append(String.format(Locale.ROOT, "  --help%n      print this text and exit%n"));
    return text.toString();
  }

  /** The effective values by flag name, in a stable order, for the start-up log line. */
  public Map<String, String> effectiveValues() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put(Key.GRPC_PORT.name, Integer.toString(grpcPort));
    values.put(Key.HTTP_PORT.name, Integer.toString(httpPort));
    values.put(Key.BIND_ADDRESS.name, bindAddress);
    values.put(
        Key.KUBECONFIG.name, kubeconfig.map(Path::toString).orElse("(in-cluster or default)"));
    values.put(Key.ACCEPTED_PLUGIN_NAMES.name, String.join(",", acceptedPluginNames));
    values.put(Key.LOG_FORMAT.name, logFormat.name().toLowerCase(Locale.ROOT));
    values.put(Key.LOG_LEVEL.name, logLevel.name().toLowerCase(Locale.ROOT));
    values.put(Key.CALL_TIMEOUT.name, formatDuration(callTimeout));
    values.put(Key.SHUTDOWN_GRACE.name, formatDuration(shutdownGrace));
    values.put(Key.MAX_MESSAGE_SIZE.name, formatSize(maxMessageSize));
    values.put(Key.KUBE_CONTEXT.name, kubeContext.orElse("(current)"));
    values.put(Key.INFORMER_SCOPE.name, informerScope.name().toLowerCase(Locale.ROOT));
    values.put(Key.LOCK_TIMEOUT.name, formatDuration(lockTimeout));
    values.put(Key.DRIFT_MIN_INTERVAL.name, formatDuration(driftMinInterval));
    values.put(Key.AUTH_MODE.name, security.authMode().name().toLowerCase(Locale.ROOT));
    values.put(
        Key.ALLOWED_SERVICE_ACCOUNTS.name,
        security.allowedServiceAccounts().stream()
            .map(ServiceAccount::toString)
            .collect(Collectors.joining(",")));
    values.put(
        Key.AUTH_AUDIENCES.name,
        security.authAudiences().isEmpty()
            ? "(the API server's)"
            : String.join(",", security.authAudiences()));
    values.put(
        Key.TLS_CERT_FILE.name, security.tlsCertFile().map(Path::toString).orElse("(plaintext)"));
    values.put(Key.TLS_KEY_FILE.name, security.tlsKeyFile().map(Path::toString).orElse(""));
    values.put(Key.CONNECTOR_DIR.name, connectorDir.toString());
    values.put(
        Key.PROMETHEUS_URL.name,
        analyzer.prometheusUrl().map(Object::toString).orElse("(none: analyzer off)"));
    values.put(
        Key.PROMETHEUS_BEARER_TOKEN_FILE.name,
        analyzer.prometheusBearerTokenFile().map(Path::toString).orElse("(none)"));
    values.put(
        Key.PROMETHEUS_CA_FILE.name,
        analyzer.prometheusCaFile().map(Path::toString).orElse("(JDK trust store)"));
    values.put(Key.PROMETHEUS_TIMEOUT.name, formatDuration(analyzer.prometheusTimeout()));
    values.put(Key.ANALYSIS_INTERVAL.name, formatDuration(analyzer.interval()));
    values.put(Key.LEADER_ELECTION.name, Boolean.toString(analyzer.leaderElection()));
    values.put(Key.LEADER_ELECTION_NAMESPACE.name, analyzer.leaderElectionNamespace());
    return values;
  }

  /** {@code 14s}, {@code 250ms}: the form the flags take. */
  public static String formatDuration(Duration duration) {
    long millis = duration.toMillis();
    return millis % 1000 == 0 ? (millis / 1000) + "s" : millis + "ms";
  }

  private static String formatSize(int bytes) {
    if (bytes % MIB == 0) {
      return (bytes / MIB) + "MiB";
    }
    return bytes % KIB == 0 ? (bytes / KIB) + "KiB" : Integer.toString(bytes);
  }

  private static IllegalArgumentException invalid(Raw raw, String expected) {
    return new IllegalArgumentException(
        raw.where() + ": invalid value '" + raw.value() + "': expected " + expected);
  }

  private static int port(Raw raw) {
    String expected = "a TCP port from 0 to 65535 (0 picks a free port), e.g. 9090";
    try {
      int port = Integer.parseInt(raw.value().trim());
      if (port < 0 || port > 65535) {
        throw invalid(raw, expected);
      }
      return port;
    } catch (NumberFormatException e) {
      throw invalid(raw, expected);
    }
  }

  private static String bindAddress(Raw raw) {
    String value = raw.value().trim();
    if (value.isEmpty() || value.chars().anyMatch(Character::isWhitespace)) {
      throw invalid(raw, "an IP address or host name to listen on, e.g. 0.0.0.0 or 127.0.0.1");
    }
    return value;
  }

  private static Optional<Path> kubeconfig(Raw raw) {
    String value = raw.value().trim();
    if (value.isEmpty()) {
      return Optional.empty();
    }
    String expected = "the path of a readable kubeconfig file, or empty for in-cluster discovery";
    try {
      Path path = Path.of(value);
      if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
        throw invalid(raw, expected + " (no readable file is there)");
      }
      return Optional.of(path);
    } catch (InvalidPathException e) {
      throw invalid(raw, expected);
    }
  }

  private static List<String> pluginNames(Raw raw) {
    String expected =
        "a comma-separated list of Argo plugin names of the form <org>/<name>, e.g."
            + " weighbridge/gateway-api,argoproj-labs/gatewayAPI";
    Set<String> names = new LinkedHashSet<>();
    for (String part : raw.value().split(",", -1)) {
      String name = part.trim();
      if (!PLUGIN_NAME.matcher(name).matches()) {
        throw invalid(raw, expected);
      }
      names.add(name);
    }
    return List.copyOf(names);
  }

  private static <E extends Enum<E>> E oneOf(Raw raw, Class<E> type) {
    String value = raw.value().trim().toUpperCase(Locale.ROOT);
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equals(value)) {
        return constant;
      }
    }
    throw invalid(
        raw,
        "one of "
            + Arrays.stream(type.getEnumConstants())
                .map(c -> c.name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(", ")));
  }

  private static Duration duration(Raw raw, boolean zeroAllowed) {
    String expected =
        (zeroAllowed ? "a duration" : "a positive duration")
            + ": a whole number with unit ms, s, m or h, e.g. 14s or 500ms";
    Matcher m = DURATION.matcher(raw.value().trim());
    if (!m.matches()) {
      throw invalid(raw, expected);
    }
    long amount = Long.parseLong(m.group(1));
    Duration duration =
        switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(amount);
          case "s" -> Duration.ofSeconds(amount);
          case "m" -> Duration.ofMinutes(amount);
          default -> Duration.ofHours(amount);
        };
    if (duration.isZero() && !zeroAllowed) {
      throw invalid(raw, expected);
    }
    return duration;
  }

  private static int size(Raw raw) {
    String expected =
        "a size from 1KiB to 2047MiB: bytes, or a whole number with unit KiB or MiB, e.g. 16MiB";
    Matcher m = SIZE.matcher(raw.value().trim());
    if (!m.matches()) {
      throw invalid(raw, expected);
    }
    long unit =
        switch (m.group(2) == null ? "B" : m.group(2)) {
          case "KiB" -> KIB;
          case "MiB" -> MIB;
          default -> 1;
        };
    long bytes = Long.parseLong(m.group(1)) * unit;
    if (bytes < KIB || bytes > Integer.MAX_VALUE) {
      throw invalid(raw, expected);
    }
    return (int) bytes;
  }
}
