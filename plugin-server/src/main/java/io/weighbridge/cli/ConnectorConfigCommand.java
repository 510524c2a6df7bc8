package io.weighbridge.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code connector-config}: the Argo Rollouts registration of this installation's connector. */
@Command(
    name = "connector-config",
    sortOptions = false,
    description = {
      "Prints the argo-rollouts-config ConfigMap and the equivalent argo-rollouts Helm chart values"
          + " that make Argo Rollouts download the connector from plugin-server"
          + " (<server-url>/connector/<arch>) and run it as a traffic-router plugin. The sha256 is"
          + " read from <server-url>/connector/<arch>.sha256, or computed from --connector-file.",
      "",
      "Argo reads the ConfigMap only at start: restart its controller after applying it."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:printed", "1:the digest could not be fetched or computed", "2:bad usage"})
final class ConnectorConfigCommand implements Callable<Integer> {

  private static final Pattern ARCH = Pattern.compile("[a-z0-9]+-[a-z0-9]+");

  /** Where Kubernetes mounts a pod's service-account token: Argo's controller's, by default. */
  static final String DEFAULT_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";

  @Option(
      names = "--server-url",
      paramLabel = "URL",
      defaultValue = "http://weighbridge.argo-rollouts.svc:8080",
      description =
          "plugin-server's HTTP URL as Argo's controller reaches it (default: ${DEFAULT-VALUE})")
  String serverUrl;

  @Option(
      names = "--plugin-name",
      paramLabel = "NAME",
      defaultValue = "weighbridge/gateway-api",
      description =
          "the plugin name, also the Rollouts' plugins key; must be one of plugin-server's"
              + " --accepted-plugin-names (default: ${DEFAULT-VALUE})")
  String pluginName;

  @Option(
      names = "--arch",
      paramLabel = "OS-ARCH",
      defaultValue = "linux-amd64",
      description =
          "the controller nodes' platform: linux-amd64 or linux-arm64 (default: ${DEFAULT-VALUE})")
  String arch;

  @Option(
      names = "--connector-file",
      paramLabel = "FILE",
      description =
          "compute the sha256 from this local connector binary instead of asking the server")
  Path connectorFile;

  @Option(
      names = "--digest-from",
      paramLabel = "URL",
      description =
          "fetch <URL>/connector/<arch>.sha256 here instead of from --server-url, e.g."
              + " http://localhost:8080 through kubectl port-forward; the location stays on"
              + " --server-url")
  String digestFrom;

  @Option(
      names = "--grpc-address",
      paramLabel = "HOST:PORT",
      description =
          "plugin-server's gRPC address for the connector's --server (default: the host of"
              + " --server-url, port 9090)")
  String grpcAddress;

  @Option(
      names = "--argo-namespace",
      paramLabel = "NS",
      defaultValue = "argo-rollouts",
      description = "the Argo Rollouts controller's namespace (default: ${DEFAULT-VALUE})")
  String argoNamespace;

  @Option(
      names = "--token-file",
      paramLabel = "FILE",
      defaultValue = DEFAULT_TOKEN_FILE,
      description =
          "the connector's --token-file: the token it sends, read inside Argo's controller pod;"
              + " plugin-server's default --auth-mode=tokenreview refuses calls without one."
              + " Empty (--token-file=) leaves it out, for --auth-mode=none (default:"
              + " ${DEFAULT-VALUE}, the controller's own service-account token)")
  String tokenFile;

  @Option(
      names = "--connector-arg",
      paramLabel = "ARG",
      description =
          "a further connector argument, e.g. --connector-arg=--token-file=/var/run/secrets/"
              + "weighbridge/token (repeatable)")
  List<String> connectorArgs = new ArrayList<>();

  @Option(
      names = {"-o", "--output"},
      paramLabel = "WHAT",
      defaultValue = "both",
      description = "configmap, helm or both (default: ${DEFAULT-VALUE})")
  String output;

  @Mixin HelpOption help;

  @Spec CommandSpec spec;

  private final HttpClient http;

  ConnectorConfigCommand(HttpClient http) {
    this.http = http;
  }

  @Override
  public Integer call() throws Exception {
    URI server;
    try {
      server = Urls.serverUrl(serverUrl);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    if (!ARCH.matcher(arch).matches()) {
      throw new ParameterException(
          spec.commandLine(),
          "--arch: invalid value '" + arch + "': expected <os>-<arch>, e.g. linux-amd64");
    }
    if (!ConnectorConfig.PLUGIN_NAME.matcher(pluginName).matches()) {
      throw new ParameterException(
          spec.commandLine(),
          "--plugin-name: invalid value '"
              + pluginName
              + "': it does not match Argo's pattern <org>/<name> (letters, digits, -, _ and .),"
              + " e.g. weighbridge/gateway-api");
    }
    if (!List.of("configmap", "helm", "both").contains(output)) {
      throw new ParameterException(
          spec.commandLine(),
          "-o/--output: invalid value '" + output + "': expected configmap, helm or both");
    }
    String grpc = grpcAddress != null ? grpcAddress : server.getHost() + ":9090";
    URI digestServer = server;
    if (digestFrom != null) {
      try {
        digestServer = Urls.serverUrl(digestFrom);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(
            spec.commandLine(), e.getMessage().replace("--server-url", "--digest-from"));
      }
    }
    String sha256 = connectorFile != null ? digestOf(connectorFile) : fetchDigest(digestServer);
    ConnectorConfig config;
    try {
      config =
          new ConnectorConfig(
              pluginName,
              Urls.resolve(server, "/connector/" + arch),
              sha256,
              grpc,
              connectorArgs(),
              argoNamespace);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    PrintWriter out = spec.commandLine().getOut();
    if (!output.equals("helm")) {
      out.println("# The argo-rollouts-config ConfigMap (kubectl apply -f -); restart Argo's");
      out.println("# controller after applying it: it reads the plugins only at start.");
      out.print(config.configMapYaml());
    }
    if (output.equals("both")) {
      out.println("---");
    }
    if (!output.equals("configmap")) {
      out.println("# The same as values of the argo-rollouts Helm chart (helm upgrade -f ...).");
      out.print(config.helmValuesYaml());
    }
    out.flush();
    return 0;
  }

  private String fetchDigest(URI server) {
    URI uri = Urls.resolve(server, "/connector/" + arch + ".sha256");
    String hint =
        "; pass --connector-file with the connector binary to compute it locally, or check"
            + " --server-url (from outside the cluster: kubectl -n argo-rollouts port-forward"
            + " svc/weighbridge 8080, then --digest-from http://localhost:8080)";
    HttpResponse<String> response;
    try {
      response =
          http.send(
              HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
              HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new CliException("cannot fetch " + uri + ": " + Urls.describe(e) + hint, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException("interrupted while fetching " + uri);
    }
    if (response.statusCode() != 200) {
      String body = response.body() == null ? "" : response.body().strip();
      throw new CliException(
          uri
              + " answered HTTP "
              + response.statusCode()
              + (body.isEmpty() ? "" : " (" + firstLine(body) + ")")
              + hint);
    }
    try {
      return ConnectorConfig.parseDigestLine(response.body(), uri.toString());
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage() + hint);
    }
  }

  /**
   * The further connector arguments: the token file first (plugin-server authenticates by default),
   * unless empty or already given with --connector-arg.
   */
  private List<String> connectorArgs() {
    boolean given =
        connectorArgs.stream()
            .anyMatch(a -> a.equals("--token-file") || a.startsWith("--token-file="));
    if (tokenFile == null || tokenFile.isBlank() || given) {
      return connectorArgs;
    }
    List<String> args = new ArrayList<>();
    args.add("--token-file=" + tokenFile.strip());
    args.addAll(connectorArgs);
    return args;
  }

  static String digestOf(Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new CliException("--connector-file " + file + " is not a readable file");
    }
    try (InputStream in =
        new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return ConnectorConfig.hex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (IOException e) {
      throw new CliException("cannot read --connector-file " + file + ": " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  private static String firstLine(String text) {
    String line = text.lines().findFirst().orElse("");
    return line.length() > 200 ? line.substring(0, 197) + "..." : line;
  }
}
