package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.charts.DocSteps.Step;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.UpstreamFiles;
import io.weighbridge.testkit.WithKubeApiServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The operator docs, step by step, against a real kube-apiserver with the Gateway API v1.2.1
 * standard CRDs (what install-traefik.md's step 1 applies) and Argo Rollouts' CRDs. Every fenced
 * command and YAML block of docs/install-*.md and docs/migration.md is either executed here or
 * listed in {@link #PAPER} with the reason it cannot be, so a new doc command fails this test (and
 * the fast {@link OperatorDocsTest}) until someone decides which.
 *
 * <p>Executed as written, by bash with a real kubectl (built from the testkit's Kubernetes module,
 * {@code testkit/controlplane/build.sh kubectl}) and {@code $SHA256} set to a real digest: the
 * {@code cat > file <<EOF} registrations (then checked as Argo reads them), the ConfigMap merge
 * patch (on the ConfigMap Argo's install.yaml ships, resolved from the argo-rollouts Go module),
 * the read-only kubectl queries, and every YAML manifest ({@code kubectl apply --server-side -f -},
 * so the API server's schema and CEL validation judge it). Translated: the chart's {@code helm
 * install} runs Helm's install action through helm-java (no helm binary; the local chart stands in
 * for the OCI artifact of the same version), and the Gateway API CRDs' release URL is the same
 * release's bundle, resolved from its Go module by testkit/upstream/resolve.sh. The run prints
 * which step was executed and which stays on paper.
 */
@WithKubeApiServer(gatewayApi = "v1.2.1-standard")
class OperatorDocsIT {

  private static final Path ROOT =
      Path.of(System.getProperty("weighbridge.root", "..")).toAbsolutePath().normalize();
  private static final Path CHART = ROOT.resolve("charts/weighbridge");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");
  private static final String DIGEST =
      "4f0c2b7d9e1a3c5b7d9f1e3a5c7b9d1f3e5a7c9b1d3f5e7a9c1b3d5f7e9a1c3b";

  private static final String GATEWAY_API_CRDS =
      "kubectl apply --server-side -f"
          + " https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml";

  /** Commands run by bash exactly as written (prefixes). */
  private static final List<String> AS_WRITTEN =
      List.of(
          "cat > ",
          "kubectl -n argo-rollouts patch configmap argo-rollouts-config --type merge --patch-file ",
          "kubectl get crd httproutes.gateway.networking.k8s.io -o jsonpath=",
          "kubectl api-resources --api-group=gateway.networking.k8s.io",
          "kubectl get httproute app -o jsonpath=",
          "kubectl -n shop get httproute app -o jsonpath=");

  /** Commands that no test on these machines can execute, with the reason (matched as prefixes). */
  private static final Map<String, String> PAPER = new LinkedHashMap<>();

  static {
    String repo = "a public Helm chart repository, unreachable from the test machines";
    PAPER.put("helm repo add ", repo);
    PAPER.put("helm install traefik traefik/traefik", repo + " (Traefik is not part of the build)");
    PAPER.put("helm install argo-rollouts argo/argo-rollouts", repo);
    PAPER.put(
        "helm upgrade argo-rollouts argo/argo-rollouts",
        repo
            + "; the values file it is given is written and checked here (weighbridge-plugin.yaml)");
    String pods =
        "needs running pods (the integration API server has no kubelet); make e2e runs plugin-server"
            + " and Argo's controller as processes instead";
    PAPER.put("kubectl -n argo-rollouts rollout status deploy/weighbridge", pods);
    PAPER.put("kubectl -n argo-rollouts rollout restart deploy/argo-rollouts", pods);
    PAPER.put(
        "SHA256=$(kubectl -n argo-rollouts exec deploy/weighbridge",
        pods
            + "; the same cut pipeline on plugin-server's .sha256 feeds Argo's own downloader in"
            + " e2e/conformance TestAuthenticationEndToEnd");
    PAPER.put("kubectl -n argo-rollouts port-forward svc/weighbridge 8080", pods);
    PAPER.put("kubectl -n traefik port-forward svc/traefik", pods);
    PAPER.put(
        "java -jar weighbridge-plugin-server.jar connector-config",
        "needs a reachable plugin-server; the CLI's output is used verbatim with Argo's downloader in"
            + " e2e/conformance TestAuthenticationEndToEnd");
    PAPER.put(
        "java -jar weighbridge/weighbridge-plugin-server.jar status",
        "needs a canary in progress; status is tested by CliIT and StatusAgainstAnalyzerIT on a real"
            + " API server");
    PAPER.put(
        "kubectl argo rollouts ",
        "Argo's kubectl plugin is not part of the build; make e2e drives canaries through Argo's"
            + " controller");
    PAPER.put("for i in $(seq 100)", "traffic through Traefik: not part of the build");
    PAPER.put("curl -s -H 'X-Canary: yes'", "traffic through Traefik: not part of the build");
    PAPER.put("kubectl -n shop run client", "a meshed pod: no Linkerd and no kubelet here");
  }

  private static Path kubectl;

  @BeforeAll
  static void buildKubectl() throws IOException, InterruptedException {
    String go = run(ROOT, List.of(ROOT.resolve("scripts/find-go").toString()), Map.of()).trim();
    String bin =
        run(
                ROOT,
                List.of(ROOT.resolve("testkit/controlplane/build.sh").toString(), "kubectl"),
                Map.of("GO", go))
            .trim();
    kubectl = Path.of(bin, "kubectl");
    assertThat(kubectl).isExecutable();
  }

  /** How this test handles a step: "yaml", "paper", "exec", or null when it cannot. */
  static String handling(Step step) {
    if (step.isYaml()) {
      return "yaml";
    }
    String command = step.text();
    if (paperReason(command) != null) {
      return "paper";
    }
    if (command.startsWith(GATEWAY_API_CRDS) || command.startsWith("helm install weighbridge ")) {
      return "exec";
    }
    for (String prefix : AS_WRITTEN) {
      if (command.startsWith(prefix)
          && (!prefix.startsWith("cat > ") || !step.heredoc().isEmpty())) {
        return "exec";
      }
    }
    return null;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"install-traefik.md", "install-linkerd.md", "migration.md"})
  @DisplayName(
      "When an operator follows the doc, then every command and manifest works or is listed")
  void followTheDoc(String doc, KubeApiServer server, KubernetesClient client, @TempDir Path work)
      throws Exception {
    List<Step> steps = DocSteps.of(ROOT.resolve("docs").resolve(doc));
    assertThat(steps).as("%s has fenced steps", doc).isNotEmpty();
    Map<String, String> env =
        Map.of(
            "KUBECONFIG",
            server.kubeconfig().toString(),
            "PATH",
            kubectl.getParent() + ":" + System.getenv("PATH"),
            "SHA256",
            DIGEST);
    List<String> executed = new ArrayList<>();
    List<String> paper = new ArrayList<>();
    List<String> unknown = new ArrayList<>();
    List<String> releases = new ArrayList<>();
    try {
      for (Step step : steps) {
        String handling = handling(step);
        String command = step.text();
        if (handling == null) {
          unknown.add(step.toString());
        } else if (handling.equals("paper")) {
          paper.add(step + " -> " + paperReason(command));
        } else if (step.isYaml()) {
          executed.add(step + " -> " + applyYaml(step, work, env));
        } else if (command.startsWith(GATEWAY_API_CRDS)) {
          Path local =
              UpstreamFiles.locate(System.getenv(), ROOT)
                  .dir()
                  .resolve("crds/gateway-api-v1.2.1-standard.yaml");
          bash(step, "kubectl apply --server-side -f " + local, work, env);
          executed.add(step + " -> kubectl with the release's file from " + local);
        } else if (command.startsWith("helm install weighbridge ")) {
          releases.add(helmInstall(command, server, client));
          executed.add(step + " -> Helm's install action (helm-java) into the API server");
        } else {
          if (command.startsWith(AS_WRITTEN.get(1))) {
            createInstallYamlConfigMap(client);
          }
          String out = bash(step, command + heredoc(step), work, env);
          executed.add(step + " -> run as written" + check(step, work, out));
          if (command.startsWith(AS_WRITTEN.get(1))) {
            assertPluginEntry(
                "argo-rollouts-config",
                YAML.readTree(
                    client
                        .configMaps()
                        .inNamespace("argo-rollouts")
                        .withName("argo-rollouts-config")
                        .require()
                        .getData()
                        .get("trafficRouterPlugins")));
          }
        }
      }
    } finally {
      for (String release : releases) {
        String[] ns = release.split("/");
        new Helm(CHART)
            .uninstall(ns[1])
            .withNamespace(ns[0])
            .withKubeConfig(server.kubeconfig())
            .ignoreNotFound()
            .call();
      }
      client.configMaps().inNamespace("argo-rollouts").withName("argo-rollouts-config").delete();
    }
    System.out.printf(
        "%s: %d steps executed, %d on paper%n  executed:%n    %s%n  on paper:%n    %s%n",
        doc,
        executed.size(),
        paper.size(),
        String.join("\n    ", executed),
        String.join("\n    ", paper));
    assertThat(unknown)
        .as("commands of %s neither executed by this test nor listed in PAPER with a reason", doc)
        .isEmpty();
  }

  private static String paperReason(String command) {
    for (Map.Entry<String, String> e : PAPER.entrySet()) {
      if (command.startsWith(e.getKey())) {
        return e.getValue();
      }
    }
    return null;
  }

  private static String heredoc(Step step) {
    if (step.heredoc().isEmpty()) {
      return "";
    }
    var m = Pattern.compile("<<'?(\\w+)'?").matcher(step.text());
    assertThat(m.find()).isTrue();
    return "\n" + step.heredoc() + m.group(1) + "\n";
  }

  /** What a step produced, checked beyond its exit code. */
  private static String check(Step step, Path work, String out) throws IOException {
    String command = step.text();
    if (command.startsWith("cat > ")) {
      String file = command.substring("cat > ".length()).split("\\s")[0];
      JsonNode root = YAML.readTree(work.resolve(file).toFile());
      JsonNode plugins =
          root.has("controller")
              ? root.at("/controller/trafficRouterPlugins")
              : YAML.readTree(root.at("/data/trafficRouterPlugins").asText());
      assertPluginEntry(file, plugins);
      return "; " + file + " holds one trafficRouterPlugins entry as Argo reads it";
    }
    if (command.startsWith(AS_WRITTEN.get(1))) {
      return "; the ConfigMap's trafficRouterPlugins is then as Argo reads it";
    }
    if (command.contains("bundle-version")) {
      assertThat(out.strip()).isEqualTo("v1.2.1");
    }
    if (command.startsWith("kubectl api-resources")) {
      assertThat(out).contains("httproutes", "gateway.networking.k8s.io/v1");
    }
    return out.isBlank() ? "" : "; printed " + out.strip().replace("\n", " | ");
  }

  private static void assertPluginEntry(String file, JsonNode plugins) {
    assertThat(plugins.isArray()).as("%s: trafficRouterPlugins is a list", file).isTrue();
    JsonNode entry = plugins.get(0);
    assertThat(entry.path("name").asText()).isEqualTo("weighbridge/gateway-api");
    assertThat(entry.path("location").asText())
        .isEqualTo("http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64");
    assertThat(entry.path("sha256").asText()).matches(SHA256);
    List<String> args = new ArrayList<>();
    entry.path("args").forEach(a -> args.add(a.asText()));
    assertThat(args)
        .containsExactly(
            "--server=weighbridge.argo-rollouts.svc:9090",
            "--plugin-name=weighbridge/gateway-api",
            "--token-file=/var/run/secrets/kubernetes.io/serviceaccount/token");
  }

  /**
   * kubectl apply --server-side of a YAML block; a fragment (no apiVersion/kind) is only parsed.
   */
  private static String applyYaml(Step step, Path work, Map<String, String> env) throws Exception {
    List<String> objects = new ArrayList<>();
    try (var parser = YAML.createParser(step.text())) {
      var docs = YAML.readValues(parser, JsonNode.class);
      while (docs.hasNext()) {
        JsonNode doc = docs.next();
        assertThat(doc).as("%s parses as YAML", step).isNotNull();
        if (!doc.has("apiVersion") || !doc.has("kind")) {
          return "a fragment (part of a values file or of an object shown above): parsed only";
        }
        objects.add(doc.path("kind").asText() + " " + doc.at("/metadata/name").asText());
      }
    }
    Path file = work.resolve("step-" + step.line() + ".yaml");
    Files.writeString(file, step.text());
    // Namespaces of the block first: kubectl applies in order, and the doc's own Namespace object
    // (install-linkerd.md) comes first in its block.
    bash(step, "kubectl apply --server-side --field-manager=operator -f " + file, work, env);
    return "kubectl apply --server-side: " + String.join(", ", objects);
  }

  /** Runs {@code helm install weighbridge <chart> -n NS [--version V] [--set k=v]...}. */
  private static String helmInstall(String command, KubeApiServer server, KubernetesClient client)
      throws IOException {
    List<String> words = List.of(command.split("\\s+"));
    String chart = words.get(3);
    String namespace = null;
    InstallCommand install = new Helm(CHART).install().withName(words.get(2));
    for (int i = 4; i < words.size(); i++) {
      switch (words.get(i)) {
        case "-n", "--namespace" -> namespace = words.get(++i);
        case "--version" -> {
          String version = words.get(++i);
          assertThat(Files.readString(CHART.resolve("Chart.yaml")))
              .as("the doc installs the published chart %s: the checkout's Chart.yaml", version)
              .contains("\nversion: " + version + "\n");
        }
        case "--set" -> {
          String[] kv = words.get(++i).split("=", 2);
          install = install.set(kv[0], kv[1]);
        }
        default -> throw new AssertionError("unexpected helm install argument " + words.get(i));
      }
    }
    assertThat(chart).isIn("oci://ghcr.io/weighbridge/charts/weighbridge", "charts/weighbridge");
    assertThat(namespace).as("the doc names the namespace").isNotNull();
    // The docs install Argo Rollouts first, which creates the namespace (--create-namespace).
    createNamespace(client, namespace);
    var release = install.withNamespace(namespace).withKubeConfig(server.kubeconfig()).call();
    assertThat(release.getStatus()).isEqualTo("deployed");
    assertThat(client.apps().deployments().inNamespace(namespace).withName("weighbridge").get())
        .isNotNull();
    return namespace + "/" + words.get(2);
  }

  /** The argo-rollouts-config ConfigMap as Argo's install.yaml ships it, for the merge patch. */
  private static void createInstallYamlConfigMap(KubernetesClient client) throws Exception {
    ConfigMap shipped =
        client
            .getKubernetesSerialization()
            .unmarshal(ArgoInstallManifest.configMapJson(), ConfigMap.class);
    createNamespace(client, "argo-rollouts");
    shipped.getMetadata().setNamespace("argo-rollouts");
    client.configMaps().inNamespace("argo-rollouts").resource(shipped).createOr(c -> c.update());
  }

  private static void createNamespace(KubernetesClient client, String name) {
    if (client.namespaces().withName(name).get() == null) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
          .create();
    }
  }

  private static String bash(Step step, String script, Path work, Map<String, String> env)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder("bash", "-euo", "pipefail", "-c", script);
    pb.directory(work.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as("%s failed:\n%s\n%s", step, script, out).isZero();
    return out;
  }

  private static String run(Path dir, List<String> command, Map<String, String> env)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as("%s failed: %s", command, out).isZero();
    return out;
  }
}
