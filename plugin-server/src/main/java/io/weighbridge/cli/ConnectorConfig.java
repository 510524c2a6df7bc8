package io.weighbridge.cli;

import java.net.URI;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What Argo Rollouts needs to run the connector of one Weighbridge installation: the entry of
 * {@code trafficRouterPlugins}, rendered as the {@code argo-rollouts-config} ConfigMap and as the
 * argo-rollouts Helm chart's values. Pure: the digest is fetched or computed by the caller.
 *
 * @param pluginName the name Argo runs the plugin as (and the Rollouts' plugins key)
 * @param location where Argo downloads the connector, {@code <server-url>/connector/<arch>}
 * @param sha256 the connector's digest: 64 lowercase hex characters
 * @param grpcAddress plugin-server's gRPC address, passed to the connector as {@code --server}
 * @param extraArgs further connector arguments (e.g. {@code --token-file=...})
 * @param argoNamespace the namespace of the Argo Rollouts controller (the ConfigMap's)
 */
public record ConnectorConfig(
    String pluginName,
    URI location,
    String sha256,
    String grpcAddress,
    List<String> extraArgs,
    String argoNamespace) {

  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  /** Argo's own rule for a plugin name (argo-rollouts utils/plugin). */
  static final Pattern PLUGIN_NAME = Pattern.compile("^([a-zA-Z0-9-]+)/([a-zA-Z0-9_.-]+)$");

  /** Validates the parts; the digest must be what Argo checks (it skips anything else). */
  public ConnectorConfig {
    Objects.requireNonNull(location, "location");
    Objects.requireNonNull(grpcAddress, "grpcAddress");
    Objects.requireNonNull(argoNamespace, "argoNamespace");
    if (!PLUGIN_NAME.matcher(pluginName).matches()) {
      throw new IllegalArgumentException(
          "plugin name '"
              + pluginName
              + "' does not match Argo's pattern <org>/<name> (letters, digits, -, _ and .), e.g."
              + " weighbridge/gateway-api");
    }
    sha256 = sha256.toLowerCase(Locale.ROOT);
    if (!SHA256.matcher(sha256).matches()) {
      throw new IllegalArgumentException(
          "'"
              + sha256
              + "' is not a sha256 digest (64 hex characters): Argo's downloader would fail the"
              + " download with it and the controller would exit, so it is refused");
    }
    extraArgs = List.copyOf(extraArgs);
  }

  /**
   * The digest from a {@code sha256sum}-style line ({@code <hex> <file name>}) or a bare digest.
   *
   * @throws IllegalArgumentException when the text holds no digest
   */
  public static String parseDigestLine(String text, String source) {
    String trimmed = text.strip();
    String first = trimmed.isEmpty() ? "" : trimmed.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
    if (!SHA256.matcher(first).matches()) {
      throw new IllegalArgumentException(
          source
              + " does not start with a sha256 digest (64 hex characters, as sha256sum prints):"
              + " got '"
              + abbreviate(trimmed)
              + "'");
    }
    return first;
  }

  /** Lowercase hex of a raw digest. */
  public static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }

  /** The connector's arguments: the server address, the plugin name, then the extra ones. */
  public List<String> args() {
    List<String> args = new ArrayList<>();
    args.add("--server=" + grpcAddress);
    args.add("--plugin-name=" + pluginName);
    args.addAll(extraArgs);
    return args;
  }

  /** The {@code argo-rollouts-config} ConfigMap with this single plugin entry. */
  public String configMapYaml() {
    StringBuilder out = new StringBuilder();
    out.append("apiVersion: v1\n")
        .append("kind: ConfigMap\n")
        .append("metadata:\n")
        .append("  name: argo-rollouts-config\n")
        .append("  namespace: ")
        .append(argoNamespace)
        .append('\n')
        .append("data:\n")
        .append("  trafficRouterPlugins: |\n");
    entry(out, "    ");
    return out.toString();
  }

  /** The same entry as values of the argo-rollouts Helm chart. */
  public String helmValuesYaml() {
    StringBuilder out = new StringBuilder();
    out.append("controller:\n").append("  trafficRouterPlugins:\n");
    entry(out, "    ");
    return out.toString();
  }

  private void entry(StringBuilder out, String indent) {
    out.append(indent).append("- name: ").append(quote(pluginName)).append('\n');
    out.append(indent).append("  location: ").append(quote(location.toString())).append('\n');
    out.append(indent).append("  sha256: ").append(quote(sha256)).append('\n');
    out.append(indent).append("  args:\n");
    for (String arg : args()) {
      out.append(indent).append("    - ").append(quote(arg)).append('\n');
    }
  }

  /** A YAML double-quoted scalar: safe for any value a flag may take. */
  static String quote(String value) {
    StringBuilder q = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      switch (c) {
        case '"' -> q.append("\\\"");
        case '\\' -> q.append("\\\\");
        case '\n' -> q.append("\\n");
        case '\t' -> q.append("\\t");
        default -> {
          if (c < 0x20) {
            q.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
          } else {
            q.append(c);
          }
        }
      }
    }
    return q.append('"').toString();
  }

  private static String abbreviate(String text) {
    String oneLine = text.replaceAll("\\s+", " ");
    return oneLine.length() <= 80 ? oneLine : oneLine.substring(0, 77) + "...";
  }
}
