package io.weighbridge.server;

import io.weighbridge.domain.auth.ServiceAccount;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Checks and converts the raw values of {@link ServerFlags} into a {@link ServerConfig}; every
 * error names where the value came from (the flag, the variable, or the default), the bad value and
 * the accepted form.
 */
final class FlagValues {
  /** Argo's own rule for a plugin name (argo-rollouts utils/plugin). */
  private static final Pattern PLUGIN_NAME = Pattern.compile("^([a-zA-Z0-9-]+)/([a-zA-Z0-9_.-]+)$");

  private static final Pattern DURATION = Pattern.compile("^(\\d{1,9})(ms|s|m|h)$");
  private static final Pattern SIZE = Pattern.compile("^(\\d{1,10})(B|KiB|MiB)?$");
  private static final int KIB = 1024;
  private static final int MIB = 1024 * 1024;

  /** A raw value and where it came from, for error messages. */
  record Raw(String value, String where) {}

  private FlagValues() {}

  /** The configuration from the raw values by flag name (without {@code --}). */
  static ServerConfig config(Map<String, Raw> raw, Path serviceAccountToken) {
    return new ServerConfig(
        port(raw.get("grpc-port")),
        port(raw.get("http-port")),
        bindAddress(raw.get("bind-address")),
        kubeconfig(raw.get("kubeconfig")),
        pluginNames(raw.get("accepted-plugin-names")),
        oneOf(raw.get("log-format"), ServerConfig.LogFormat.class),
        oneOf(raw.get("log-level"), ServerConfig.LogLevel.class),
        duration(raw.get("call-timeout"), false),
        duration(raw.get("shutdown-grace"), true),
        size(raw.get("max-message-size")),
        kubeContext(raw.get("kube-context")),
        oneOf(raw.get("informer-scope"), ServerConfig.InformerScope.class),
        lockTimeout(raw.get("lock-timeout"), raw.get("call-timeout")),
        duration(raw.get("drift-min-interval"), true),
        security(raw, serviceAccountToken),
        directory(raw.get("connector-dir")),
        analyzerOptions(raw));
  }

  private static ServerConfig.Security security(Map<String, Raw> raw, Path serviceAccountToken) {
    Raw modeRaw = raw.get("auth-mode");
    ServerConfig.AuthMode mode =
        modeRaw.value().isBlank()
            ? (Files.exists(serviceAccountToken)
                ? ServerConfig.AuthMode.TOKENREVIEW
                : ServerConfig.AuthMode.NONE)
            : oneOf(modeRaw, ServerConfig.AuthMode.class);
    Optional<Path> cert = readableFile(raw.get("tls-cert-file"), "a PEM certificate file");
    Optional<Path> key = readableFile(raw.get("tls-key-file"), "a PEM private key file");
    return new ServerConfig.Security(
        mode,
        serviceAccounts(raw.get("allowed-service-accounts")),
        list(raw.get("auth-audiences")),
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

  private static ServerConfig.AnalyzerOptions analyzerOptions(Map<String, Raw> raw) {
    return new ServerConfig.AnalyzerOptions(
        prometheusUrl(raw.get("prometheus-url")),
        readableFile(raw.get("prometheus-bearer-token-file"), "a file with the token"),
        readableFile(raw.get("prometheus-ca-file"), "a PEM file with CA certificates"),
        duration(raw.get("prometheus-timeout"), false),
        duration(raw.get("analysis-interval"), false),
        bool(raw.get("leader-election")),
        leaderElectionNamespace(raw.get("leader-election-namespace")));
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
        if (Files.isReadable(ServerConfig.SERVICE_ACCOUNT_NAMESPACE)) {
          String ns = Files.readString(ServerConfig.SERVICE_ACCOUNT_NAMESPACE).trim();
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
              + ServerConfig.formatDuration(call)
              + "), so that a call waiting for a busy route fails with that reason rather than a"
              + " bare deadline; e.g. 10s with --call-timeout=14s");
    }
    return lock;
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
