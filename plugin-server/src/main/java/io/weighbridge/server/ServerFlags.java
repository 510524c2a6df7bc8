package io.weighbridge.server;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/**
 * plugin-server's flags as picocli options, the parser the operator CLI uses too: every option's
 * default comes from {@code WEIGHBRIDGE_<NAME>} when set (a flag wins), and each raw value is then
 * checked and converted into {@link ServerConfig} with an error that names the flag (or the
 * variable), the bad value and the accepted form.
 */
@Command(
    name = "java -jar weighbridge-plugin-server.jar",
    sortOptions = false,
    usageHelpWidth = 100,
    description = {
      "Weighbridge plugin-server: serves the Weighbridge gRPC contract that the connector (run by"
          + " Argo Rollouts as a traffic-router plugin) forwards every call to.",
      "Every flag can also be set as an environment variable; a flag wins.",
      "The same jar is the operator CLI: java -jar weighbridge-plugin-server.jar"
          + " status|plan|connector-config --help (docs/cli.md).",
      ""
    })
final class ServerFlags {

  @Option(
      names = "--grpc-port",
      paramLabel = "VALUE",
      defaultValue = "9090",
      description = {
        "TCP port of the gRPC server the connector calls; 0 picks a free port",
        "env WEIGHBRIDGE_GRPC_PORT, default \"${DEFAULT-VALUE}\""
      })
  String grpcPort;

  @Option(
      names = "--http-port",
      paramLabel = "VALUE",
      defaultValue = "8080",
      description = {
        "TCP port of /healthz, /readyz, /metrics, /api/v1/analyses and /connector/; 0 picks a free port",
        "env WEIGHBRIDGE_HTTP_PORT, default \"${DEFAULT-VALUE}\""
      })
  String httpPort;

  @Option(
      names = "--bind-address",
      paramLabel = "VALUE",
      defaultValue = "0.0.0.0",
      description = {
        "address both servers listen on",
        "env WEIGHBRIDGE_BIND_ADDRESS, default \"${DEFAULT-VALUE}\""
      })
  String bindAddress;

  @Option(
      names = "--kubeconfig",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "kubeconfig file; empty means in-cluster or default discovery",
        "env WEIGHBRIDGE_KUBECONFIG, default \"${DEFAULT-VALUE}\""
      })
  String kubeconfig;

  @Option(
      names = "--accepted-plugin-names",
      paramLabel = "VALUE",
      defaultValue = "weighbridge/gateway-api,argoproj-labs/gatewayAPI",
      description = {
        "comma-separated Argo plugin names a connector may call as",
        "env WEIGHBRIDGE_ACCEPTED_PLUGIN_NAMES, default \"${DEFAULT-VALUE}\""
      })
  String acceptedPluginNames;

  @Option(
      names = "--log-format",
      paramLabel = "VALUE",
      defaultValue = "text",
      description = {"text or json", "env WEIGHBRIDGE_LOG_FORMAT, default \"${DEFAULT-VALUE}\""})
  String logFormat;

  @Option(
      names = "--log-level",
      paramLabel = "VALUE",
      defaultValue = "info",
      description = {
        "trace, debug, info, warn or error for Weighbridge's loggers (libraries log at info or above)",
        "env WEIGHBRIDGE_LOG_LEVEL, default \"${DEFAULT-VALUE}\""
      })
  String logLevel;

  @Option(
      names = "--call-timeout",
      paramLabel = "VALUE",
      defaultValue = "14s",
      description = {
        "bound of every call, answered DEADLINE_EXCEEDED past it (keep below the connector's 15s)",
        "env WEIGHBRIDGE_CALL_TIMEOUT, default \"${DEFAULT-VALUE}\""
      })
  String callTimeout;

  @Option(
      names = "--shutdown-grace",
      paramLabel = "VALUE",
      defaultValue = "10s",
      description = {
        "how long in-flight calls may finish after SIGTERM (0s: none)",
        "env WEIGHBRIDGE_SHUTDOWN_GRACE, default \"${DEFAULT-VALUE}\""
      })
  String shutdownGrace;

  @Option(
      names = "--max-message-size",
      paramLabel = "VALUE",
      defaultValue = "16MiB",
      description = {
        "largest gRPC request accepted (bytes, or with KiB/MiB)",
        "env WEIGHBRIDGE_MAX_MESSAGE_SIZE, default \"${DEFAULT-VALUE}\""
      })
  String maxMessageSize;

  @Option(
      names = "--kube-context",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "kubeconfig context to use; empty means its current context",
        "env WEIGHBRIDGE_KUBE_CONTEXT, default \"${DEFAULT-VALUE}\""
      })
  String kubeContext;

  @Option(
      names = "--informer-scope",
      paramLabel = "VALUE",
      defaultValue = "cluster",
      description = {
        "cluster: one watch per route kind for all namespaces (needs a ClusterRole with list/watch); namespace: one watch per route kind and namespace in use (works with namespaced Roles)",
        "env WEIGHBRIDGE_INFORMER_SCOPE, default \"${DEFAULT-VALUE}\""
      })
  String informerScope;

  @Option(
      names = "--lock-timeout",
      paramLabel = "VALUE",
      defaultValue = "10s",
      description = {
        "how long a call waits for another call on the same route before failing; must be below --call-timeout (when left unset and --call-timeout is lower, 3/4 of it)",
        "env WEIGHBRIDGE_LOCK_TIMEOUT, default \"${DEFAULT-VALUE}\""
      })
  String lockTimeout;

  @Option(
      names = "--drift-min-interval",
      paramLabel = "VALUE",
      defaultValue = "1s",
      description = {
        "least time between two restorations of one route's weights changed by someone else, so a tool fighting over them cannot make us write in a loop (0s: no limit)",
        "env WEIGHBRIDGE_DRIFT_MIN_INTERVAL, default \"${DEFAULT-VALUE}\""
      })
  String driftMinInterval;

  @Option(
      names = "--auth-mode",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "tokenreview: every gRPC call must carry the bearer token of an allowed service account, verified with a Kubernetes TokenReview; none: no authentication. Default: tokenreview when running in a Pod (its ServiceAccount token file exists), else none",
        "env WEIGHBRIDGE_AUTH_MODE, default \"${DEFAULT-VALUE}\""
      })
  String authMode;

  @Option(
      names = "--allowed-service-accounts",
      paramLabel = "VALUE",
      defaultValue = "argo-rollouts:argo-rollouts",
      description = {
        "comma-separated <namespace>:<name> of the service accounts whose tokens are admitted (the Argo Rollouts controller's)",
        "env WEIGHBRIDGE_ALLOWED_SERVICE_ACCOUNTS, default \"${DEFAULT-VALUE}\""
      })
  String allowedServiceAccounts;

  @Option(
      names = "--auth-audiences",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "comma-separated audiences a token must be issued for (a projected token's audience); empty: the API server's own, which the default service-account token carries",
        "env WEIGHBRIDGE_AUTH_AUDIENCES, default \"${DEFAULT-VALUE}\""
      })
  String authAudiences;

  @Option(
      names = "--tls-cert-file",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "PEM certificate (chain) of the gRPC port; set with --tls-key-file for TLS, re-read when it changes; empty: plaintext",
        "env WEIGHBRIDGE_TLS_CERT_FILE, default \"${DEFAULT-VALUE}\""
      })
  String tlsCertFile;

  @Option(
      names = "--tls-key-file",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "PEM private key of --tls-cert-file (PKCS#8)",
        "env WEIGHBRIDGE_TLS_KEY_FILE, default \"${DEFAULT-VALUE}\""
      })
  String tlsKeyFile;

  @Option(
      names = "--connector-dir",
      paramLabel = "VALUE",
      defaultValue = "/opt/weighbridge/connector",
      description = {
        "folder with weighbridge-connector-<os>-<arch>, served at /connector/<os>-<arch> (and .sha256) on the HTTP port",
        "env WEIGHBRIDGE_CONNECTOR_DIR, default \"${DEFAULT-VALUE}\""
      })
  String connectorDir;

  @Option(
      names = "--prometheus-url",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "base URL of the Prometheus the canary analyzer queries, e.g. http://prometheus.monitoring:9090; empty disables the analyzer",
        "env WEIGHBRIDGE_PROMETHEUS_URL, default \"${DEFAULT-VALUE}\""
      })
  String prometheusUrl;

  @Option(
      names = "--prometheus-bearer-token-file",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "file whose content is sent to Prometheus as a bearer token; empty for none",
        "env WEIGHBRIDGE_PROMETHEUS_BEARER_TOKEN_FILE, default \"${DEFAULT-VALUE}\""
      })
  String prometheusBearerTokenFile;

  @Option(
      names = "--prometheus-ca-file",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "PEM CA bundle for an https Prometheus URL with a private CA; empty: the JDK's trust store",
        "env WEIGHBRIDGE_PROMETHEUS_CA_FILE, default \"${DEFAULT-VALUE}\""
      })
  String prometheusCaFile;

  @Option(
      names = "--prometheus-timeout",
      paramLabel = "VALUE",
      defaultValue = "5s",
      description = {
        "bound of one Prometheus query",
        "env WEIGHBRIDGE_PROMETHEUS_TIMEOUT, default \"${DEFAULT-VALUE}\""
      })
  String prometheusTimeout;

  @Option(
      names = "--analysis-interval",
      paramLabel = "VALUE",
      defaultValue = "2s",
      description = {
        "time between two evaluations of each canary (faster than the scrape interval is fine: it shortens the time to act after a scrape)",
        "env WEIGHBRIDGE_ANALYSIS_INTERVAL, default \"${DEFAULT-VALUE}\""
      })
  String analysisInterval;

  @Option(
      names = "--leader-election",
      paramLabel = "VALUE",
      defaultValue = "true",
      description = {
        "true: replicas elect one analyzer with the Lease weighbridge-analyzer; false: this replica analyses and acts alone (run one replica)",
        "env WEIGHBRIDGE_LEADER_ELECTION, default \"${DEFAULT-VALUE}\""
      })
  String leaderElection;

  @Option(
      names = "--leader-election-namespace",
      paramLabel = "VALUE",
      defaultValue = "",
      description = {
        "namespace of the Lease; empty: the Pod's namespace (ServiceAccount), else argo-rollouts",
        "env WEIGHBRIDGE_LEADER_ELECTION_NAMESPACE, default \"${DEFAULT-VALUE}\""
      })
  String leaderElectionNamespace;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this text and exit")
  boolean help;

  private ServerFlags() {}

  /** The environment variable of {@code --name}: {@code WEIGHBRIDGE_NAME}. */
  static String env(String flag) {
    return "WEIGHBRIDGE_" + flag.substring(2).toUpperCase(Locale.ROOT).replace('-', '_');
  }

  private static CommandLine commandLine(ServerFlags flags, Map<String, String> env) {
    CommandLine cli = new CommandLine(flags);
    cli.setOverwrittenOptionsAllowed(true); // the last --flag wins, as with most servers
    cli.setDefaultValueProvider(
        arg ->
            arg instanceof OptionSpec o && !o.usageHelp() ? env.get(env(o.longestName())) : null);
    return cli;
  }

  /** The usage text, with the defaults {@code env} gives. */
  static String usage(Map<String, String> env) {
    return commandLine(new ServerFlags(), env).getUsageMessage();
  }

  /** See {@link ServerConfig#parse(String[], Map)}. */
  static ServerConfig parse(String[] args, Map<String, String> env, Path serviceAccountToken) {
    for (String arg : args) {
      if (arg.equals("--")) {
        throw unexpected(arg);
      }
    }
    ServerFlags flags = new ServerFlags();
    CommandLine cli = commandLine(flags, env);
    ParseResult parsed;
    try {
      parsed = cli.parseArgs(args);
    } catch (CommandLine.UnmatchedArgumentException e) {
      String arg = e.getUnmatched().isEmpty() ? "" : e.getUnmatched().get(0);
      if (arg.startsWith("--") && arg.length() > 2) {
        String name = arg.contains("=") ? arg.substring(2, arg.indexOf('=')) : arg.substring(2);
        throw new IllegalArgumentException(
            "unknown flag --" + name + "; run with --help to list the flags");
      }
      throw unexpected(arg);
    } catch (CommandLine.MissingParameterException e) {
      OptionSpec option = (OptionSpec) e.getMissing().get(0);
      throw new IllegalArgumentException(
          option.longestName()
              + " needs a value, e.g. "
              + option.longestName()
              + "="
              + option.defaultValue());
    } catch (CommandLine.ParameterException e) {
      throw new IllegalArgumentException(e.getMessage() + "; run with --help to list the flags");
    }
    Map<String, FlagValues.Raw> raw = new LinkedHashMap<>();
    for (OptionSpec option : cli.getCommandSpec().options()) {
      if (option.usageHelp()) {
        continue;
      }
      String flag = option.longestName();
      String where =
          parsed.hasMatchedOption(option)
              ? flag
              : env.containsKey(env(flag)) ? env(flag) + " (" + flag + ")" : flag + " (default)";
      raw.put(flag.substring(2), new FlagValues.Raw(option.getValue(), where));
    }
    return FlagValues.config(raw, serviceAccountToken);
  }

  private static IllegalArgumentException unexpected(String arg) {
    return new IllegalArgumentException(
        "unexpected argument '"
            + arg
            + "': plugin-server takes only flags such as --grpc-port=9090; run with --help to"
            + " list them");
  }
}
