package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Lints and renders charts/weighbridge with the Helm library helm-java bundles, and checks it. */
class WeighbridgeChartTest {

  private static final Path CHART =
      Path.of(System.getProperty("weighbridge.chart", "weighbridge")).toAbsolutePath();
  private static final String RELEASE = "weighbridge";
  private static final String NAMESPACE = "argo-rollouts";
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  /** The rendered documents of one {@code helm template}. */
  private record Rendered(List<JsonNode> docs) {

    JsonNode one(String kind) {
      List<JsonNode> found = all(kind);
      assertThat(found).as("rendered %s objects", kind).hasSize(1);
      return found.get(0);
    }

    List<JsonNode> all(String kind) {
      return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
    }

    Set<String> kinds() {
      return docs.stream().map(d -> d.path("kind").asText()).collect(Collectors.toSet());
    }
  }

  private static Rendered render(Map<String, Object> values) throws IOException {
    return render(NAMESPACE, values);
  }

  private static Rendered render(String namespace, Map<String, Object> values) throws IOException {
    TemplateCommand template = new Helm(CHART).template().withName(RELEASE);
    template = template.withNamespace(namespace);
    for (Map.Entry<String, Object> value : values.entrySet()) {
      template = template.set(value.getKey(), value.getValue());
    }
    String yaml = template.call();
    List<JsonNode> docs = new ArrayList<>();
    try (var parser = YAML.createParser(yaml)) {
      YAML.readValues(parser, JsonNode.class)
          .forEachRemaining(
              doc -> {
                if (doc != null && doc.isObject() && !doc.isEmpty()) {
                  docs.add(doc);
                }
              });
    }
    return new Rendered(docs);
  }

  private static Rendered defaults() throws IOException {
    return render(Map.of());
  }

  private static final String PROMETHEUS = "http://prometheus-operated.monitoring:9090";

  private static Rendered analyzerOn() throws IOException {
    return render(Map.of("server.prometheusUrl", PROMETHEUS));
  }

  /** The NOTES.txt helm install prints, rendered client-side (a dry run without a cluster). */
  static String notes(Map<String, Object> values) {
    InstallCommand install =
        new Helm(CHART).install().withName(RELEASE).withNamespace(NAMESPACE).clientOnly().dryRun();
    for (Map.Entry<String, Object> value : values.entrySet()) {
      install = install.set(value.getKey(), value.getValue());
    }
    return install.call().getOutput();
  }

  /** "group/resource" -> verbs of every rule of a ClusterRole or Role (one rule per resource). */
  static Map<String, List<String>> grants(JsonNode role) {
    Map<String, List<String>> grants = new TreeMap<>();
    for (JsonNode rule : role.path("rules")) {
      for (JsonNode group : rule.path("apiGroups")) {
        for (JsonNode resource : rule.path("resources")) {
          String key = group.asText() + "/" + resource.asText();
          assertThat(grants).as("one rule per resource").doesNotContainKey(key);
          grants.put(key, texts(rule.path("verbs")));
        }
      }
    }
    return grants;
  }

  /** What routing needs whatever the settings, plus {@code more}. */
  static Map<String, List<String>> routingGrants(Map<String, List<String>> more) {
    List<String> routeVerbs = List.of("get", "list", "watch", "patch");
    Map<String, List<String>> grants =
        new TreeMap<>(
            Map.of(
                "gateway.networking.k8s.io/httproutes", routeVerbs,
                "gateway.networking.k8s.io/grpcroutes", routeVerbs,
                "gateway.networking.k8s.io/tcproutes", routeVerbs,
                "gateway.networking.k8s.io/tlsroutes", routeVerbs,
                "gateway.networking.k8s.io/udproutes", routeVerbs,
                "/services", List.of("get"),
                "apiextensions.k8s.io/customresourcedefinitions", List.of("get"),
                "authentication.k8s.io/tokenreviews", List.of("create")));
    grants.putAll(more);
    return grants;
  }

  static Map<String, String> strings(JsonNode object) {
    Map<String, String> map = new TreeMap<>();
    object.properties().forEach(e -> map.put(e.getKey(), e.getValue().asText()));
    return map;
  }

  static List<String> texts(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  private static JsonNode container(Rendered rendered) {
    JsonNode containers = rendered.one("Deployment").path("spec").path("template").path("spec");
    assertThat(containers.path("containers")).hasSize(1);
    return containers.path("containers").get(0);
  }

  @Nested
  class WhenTheGrafanaDashboardIsEnabled {
    @Test
    @DisplayName(
        "When grafanaDashboard.enabled, then one labelled ConfigMap carries dashboards/weighbridge.json")
    void dashboardConfigMap() throws IOException {
      Rendered rendered = render(Map.of("grafanaDashboard.enabled", "true"));

      JsonNode map = rendered.one("ConfigMap");
      assertThat(map.at("/metadata/labels/grafana_dashboard").asText()).isEqualTo("1");
      assertThat(map.at("/metadata/namespace").asText()).isEqualTo(NAMESPACE);
      JsonNode dashboard = new ObjectMapper().readTree(map.at("/data/weighbridge.json").asText());
      assertThat(dashboard)
          .isEqualTo(
              new ObjectMapper()
                  .readTree(CHART.resolve("dashboards").resolve("weighbridge.json").toFile()));
      assertThat(dashboard.path("panels").size()).isPositive();
      assertThat(defaults().all("ConfigMap")).as("off by default").isEmpty();
    }
  }

  @Nested
  @DisplayName("helm lint")
  class Lint {

    @Test
    @DisplayName("When the chart is linted, then it passes without errors")
    void lintPasses() {
      LintResult result = new Helm(CHART).lint().call();
      assertThat(result.isFailed()).as("lint failed: %s", result.getMessages()).isFalse();
      assertThat(result.getMessages()).noneMatch(m -> m.contains("[ERROR]"));
    }

    @Test
    @DisplayName(
        "When the chart is linted with --strict, then warnings fail it too and there are none")
    void strictLintPasses() {
      LintResult result = new Helm(CHART).lint().strict().call();
      assertThat(result.isFailed()).as("strict lint failed: %s", result.getMessages()).isFalse();
      assertThat(result.getMessages()).noneMatch(m -> m.contains("[WARNING]"));
    }
  }

  @Nested
  @DisplayName("helm template with the default values")
  class Defaults {

    @Test
    @DisplayName(
        "When rendered, then exactly the workload, network and RBAC objects come out (no leases"
            + " Role: the analyzer is off)")
    void renderedKinds() throws IOException {
      assertThat(defaults().kinds())
          .containsExactlyInAnyOrder(
              "ServiceAccount",
              "Service",
              "Deployment",
              "ClusterRole",
              "ClusterRoleBinding",
              "PodDisruptionBudget",
              "NetworkPolicy");
    }

    @Test
    @DisplayName("When rendered, then two replicas run the image of the chart's appVersion")
    void replicasAndImage() throws IOException {
      Rendered rendered = defaults();
      assertThat(rendered.one("Deployment").at("/spec/replicas").asInt()).isEqualTo(2);
      assertThat(container(rendered).path("image").asText())
          .isEqualTo("ghcr.io/weighbridge/weighbridge:0.1.0");
      assertThat(texts(container(rendered).path("args")))
          .contains(
              "--grpc-port=9090",
              "--http-port=8080",
              "--accepted-plugin-names=weighbridge/gateway-api,argoproj-labs/gatewayAPI");
    }

    @Test
    @DisplayName("When rendered, then the pod runs non-root, read-only, without capabilities")
    void securityContext() throws IOException {
      Rendered rendered = defaults();
      JsonNode pod = rendered.one("Deployment").at("/spec/template/spec");
      assertThat(pod.at("/securityContext/runAsNonRoot").asBoolean()).isTrue();
      assertThat(pod.at("/securityContext/runAsUser").asInt()).isEqualTo(65532);
      assertThat(pod.at("/securityContext/seccompProfile/type").asText())
          .isEqualTo("RuntimeDefault");

      JsonNode sc = container(rendered).path("securityContext");
      assertThat(sc.path("runAsNonRoot").asBoolean()).isTrue();
      assertThat(sc.path("readOnlyRootFilesystem").asBoolean()).isTrue();
      assertThat(sc.path("allowPrivilegeEscalation").isBoolean()).isTrue();
      assertThat(sc.path("allowPrivilegeEscalation").asBoolean()).isFalse();
      assertThat(sc.path("privileged").asBoolean()).isFalse();
      assertThat(texts(sc.at("/capabilities/drop"))).containsExactly("ALL");
      assertThat(sc.at("/capabilities/add").isMissingNode()).isTrue();
      assertThat(sc.at("/seccompProfile/type").asText()).isEqualTo("RuntimeDefault");
    }

    @Test
    @DisplayName("When rendered, then /tmp is an emptyDir, the only writable path")
    void tmpIsEmptyDir() throws IOException {
      Rendered rendered = defaults();
      JsonNode mounts = container(rendered).path("volumeMounts");
      assertThat(mounts).hasSize(1);
      assertThat(mounts.get(0).path("mountPath").asText()).isEqualTo("/tmp");
      JsonNode volumes = rendered.one("Deployment").at("/spec/template/spec/volumes");
      assertThat(volumes).hasSize(1);
      assertThat(volumes.get(0).path("name").asText())
          .isEqualTo(mounts.get(0).path("name").asText());
      assertThat(volumes.get(0).has("emptyDir")).isTrue();
    }

    @Test
    @DisplayName(
        "When rendered, then liveness checks /healthz and readiness /readyz on the HTTP port")
    void probes() throws IOException {
      JsonNode c = container(defaults());
      assertThat(c.at("/livenessProbe/httpGet/path").asText()).isEqualTo("/healthz");
      assertThat(c.at("/livenessProbe/httpGet/port").asText()).isEqualTo("http");
      assertThat(c.at("/readinessProbe/httpGet/path").asText()).isEqualTo("/readyz");
      assertThat(c.at("/readinessProbe/httpGet/port").asText()).isEqualTo("http");
      assertThat(c.at("/startupProbe/httpGet/path").asText()).isEqualTo("/healthz");
      Map<String, Integer> ports = new LinkedHashMap<>();
      c.path("ports")
          .forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
      assertThat(ports).containsExactly(Map.entry("grpc", 9090), Map.entry("http", 8080));
      assertThat(c.at("/resources/limits/memory").asText()).isNotEmpty();
    }

    @Test
    @DisplayName("When rendered, then the Service exposes grpc 9090 and http 8080 to the pods")
    void service() throws IOException {
      Rendered rendered = defaults();
      JsonNode service = rendered.one("Service");
      Map<String, String> ports = new TreeMap<>();
      service
          .at("/spec/ports")
          .forEach(
              p ->
                  ports.put(
                      p.path("name").asText(),
                      p.path("port").asInt() + "->" + p.path("targetPort").asText()));
      assertThat(ports)
          .containsExactly(Map.entry("grpc", "9090->grpc"), Map.entry("http", "8080->http"));
      assertThat(strings(service.at("/spec/selector")))
          .isEqualTo(strings(rendered.one("Deployment").at("/spec/template/metadata/labels")));
    }

    @Test
    @DisplayName(
        "When rendered without the analyzer, then the ClusterRole grants only what routing uses and"
            + " there is no leases Role")
    void clusterRoleIsLeastPrivilegeWithoutAnalyzer() throws IOException {
      Rendered rendered = defaults();
      assertThat(grants(rendered.one("ClusterRole")))
          .containsExactlyInAnyOrderEntriesOf(
              routingGrants(Map.of("argoproj.io/rollouts", List.of("get"))));
      assertThat(rendered.all("Role")).isEmpty();
      assertThat(rendered.all("RoleBinding")).isEmpty();
      assertThat(texts(container(rendered).path("args")))
          .noneMatch(arg -> arg.startsWith("--prometheus-") || arg.startsWith("--leader-election"));
    }

    @Test
    @DisplayName(
        "When the analyzer is configured, then it alone adds Rollouts list/watch/patch,"
            + " rollouts/status patch, events create and the leases Role")
    void analyzerGrants() throws IOException {
      Rendered rendered = analyzerOn();
      assertThat(grants(rendered.one("ClusterRole")))
          .containsExactlyInAnyOrderEntriesOf(
              routingGrants(
                  Map.of(
                      "argoproj.io/rollouts", List.of("get", "list", "watch", "patch"),
                      "argoproj.io/rollouts/status", List.of("patch"),
                      "/events", List.of("create"))));
      assertThat(grants(rendered.one("Role")))
          .containsExactly(
              Map.entry("coordination.k8s.io/leases", List.of("get", "create", "patch")));
      assertThat(texts(container(rendered).path("args")))
          .contains("--prometheus-url=" + PROMETHEUS);
    }

    @Test
    @DisplayName(
        "When rendered, then reading the route schemas is limited to the five route CRDs by name")
    void crdReadsByName() throws IOException {
      JsonNode rules = defaults().one("ClusterRole").path("rules");
      JsonNode crdRule =
          StreamSupport.stream(rules.spliterator(), false)
              .filter(r -> texts(r.path("resources")).contains("customresourcedefinitions"))
              .findFirst()
              .orElseThrow();
      assertThat(texts(crdRule.path("resourceNames")))
          .containsExactlyInAnyOrder(
              "httproutes.gateway.networking.k8s.io",
              "grpcroutes.gateway.networking.k8s.io",
              "tcproutes.gateway.networking.k8s.io",
              "tlsroutes.gateway.networking.k8s.io",
              "udproutes.gateway.networking.k8s.io");
    }

    @Test
    @DisplayName(
        "When the analyzer is configured, then the Rollout policy judges only the chart's"
            + " ServiceAccount; rbac.rolloutPolicy=false or no analyzer leaves it out")
    void rolloutPolicyMatchesTheServiceAccount() throws IOException {
      Rendered rendered = analyzerOn();
      JsonNode policy = rendered.one("ValidatingAdmissionPolicy");
      assertThat(policy.at("/spec/matchConditions/0/expression").asText())
          .isEqualTo(
              "request.userInfo.username == \"system:serviceaccount:"
                  + NAMESPACE
                  + ":"
                  + rendered.one("ServiceAccount").at("/metadata/name").asText()
                  + "\"");
      assertThat(rendered.one("ValidatingAdmissionPolicyBinding").at("/spec/policyName").asText())
          .isEqualTo(policy.at("/metadata/name").asText());
      assertThat(policy.at("/metadata/name").asText())
          .isEqualTo("weighbridge-" + NAMESPACE + "-rollout-pause-abort-only");
      assertThat(
              render(Map.of("server.prometheusUrl", PROMETHEUS, "rbac.rolloutPolicy", false))
                  .kinds())
          .doesNotContain("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding");
      assertThat(defaults().kinds())
          .doesNotContain("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding");
    }

    @Test
    @DisplayName(
        "When rendered with the analyzer, then no RBAC rule holds a wildcard and leases stay in"
            + " the namespace")
    void noWildcardsAndNamespacedLeases() throws IOException {
      Rendered rendered = analyzerOn();
      for (String kind : List.of("ClusterRole", "Role")) {
        for (JsonNode rule : rendered.one(kind).path("rules")) {
          for (String field : List.of("apiGroups", "resources", "verbs", "resourceNames")) {
            assertThat(texts(rule.path(field))).as("%s %s", kind, field).doesNotContain("*");
          }
        }
      }
      JsonNode role = rendered.one("Role");
      assertThat(role.at("/metadata/namespace").asText()).isEqualTo(NAMESPACE);
      assertThat(role.path("rules")).hasSize(1);
      assertThat(texts(role.at("/rules/0/apiGroups"))).containsExactly("coordination.k8s.io");
      assertThat(texts(role.at("/rules/0/resources"))).containsExactly("leases");
      assertThat(texts(role.at("/rules/0/verbs"))).containsExactly("get", "create", "patch");

      String account = rendered.one("ServiceAccount").at("/metadata/name").asText();
      assertThat(rendered.one("Deployment").at("/spec/template/spec/serviceAccountName").asText())
          .isEqualTo(account);
      for (String kind : List.of("ClusterRoleBinding", "RoleBinding")) {
        JsonNode binding = rendered.one(kind);
        assertThat(binding.path("subjects")).hasSize(1);
        assertThat(binding.at("/subjects/0/name").asText()).isEqualTo(account);
        assertThat(binding.at("/subjects/0/namespace").asText()).isEqualTo(NAMESPACE);
      }
    }

    @Test
    @DisplayName(
        "When rendered, then only Argo's controller pods may reach the gRPC port, the metrics"
            + " namespace only HTTP")
    void networkPolicy() throws IOException {
      Rendered rendered = defaults();
      JsonNode policy = rendered.one("NetworkPolicy");
      assertThat(strings(policy.at("/spec/podSelector/matchLabels")))
          .isEqualTo(strings(rendered.one("Deployment").at("/spec/selector/matchLabels")));
      assertThat(texts(policy.at("/spec/policyTypes"))).containsExactly("Ingress");
      JsonNode ingress = policy.at("/spec/ingress");
      assertThat(ingress).hasSize(2);

      JsonNode grpc = ingress.get(0);
      assertThat(grpc.at("/ports").findValuesAsText("port")).containsExactly("grpc");
      assertThat(grpc.path("from")).hasSize(2);
      for (JsonNode peer : grpc.path("from")) {
        assertThat(strings(peer.at("/namespaceSelector/matchLabels")))
            .containsExactly(Map.entry("kubernetes.io/metadata.name", "argo-rollouts"));
        assertThat(peer.at("/podSelector/matchLabels/app.kubernetes.io~1name").asText())
            .isEqualTo("argo-rollouts");
      }

      JsonNode metrics = ingress.get(1);
      assertThat(metrics.at("/ports").findValuesAsText("port")).containsExactly("http");
      assertThat(metrics.at("/from/0/podSelector").isMissingNode()).isTrue();
      assertThat(strings(metrics.at("/from/0/namespaceSelector/matchLabels")))
          .containsExactly(Map.entry("kubernetes.io/metadata.name", "monitoring"));
      assertThat(metrics.path("from")).hasSize(3);
      assertThat(metrics.path("from").get(1)).isEqualTo(grpc.path("from").get(0));
      assertThat(metrics.path("from").get(2)).isEqualTo(grpc.path("from").get(1));
    }

    @Test
    @DisplayName("When rendered, then the PodDisruptionBudget keeps one of the pods up")
    void podDisruptionBudget() throws IOException {
      Rendered rendered = defaults();
      JsonNode pdb = rendered.one("PodDisruptionBudget");
      assertThat(pdb.at("/spec/minAvailable").asInt()).isEqualTo(1);
      assertThat(strings(pdb.at("/spec/selector/matchLabels")))
          .isEqualTo(strings(rendered.one("Deployment").at("/spec/selector/matchLabels")));
    }
  }

  @Nested
  @DisplayName("helm template with other values")
  class Overrides {

    @Test
    @DisplayName("When one replica is asked for, then no PodDisruptionBudget blocks node drains")
    void noPdbForOneReplica() throws IOException {
      Rendered rendered = render(Map.of("replicaCount", 1));
      assertThat(rendered.one("Deployment").at("/spec/replicas").asInt()).isEqualTo(1);
      assertThat(rendered.all("PodDisruptionBudget")).isEmpty();
    }

    @Test
    @DisplayName("When Argo runs with other labels, then the NetworkPolicy admits those pods")
    void networkPolicySelectorIsConfigurable() throws IOException {
      Rendered rendered =
          render(
              Map.of(
                  "networkPolicy.argoRollouts.podSelectors[0].matchLabels.app\\.kubernetes\\.io/name",
                  "rollouts",
                  "networkPolicy.argoRollouts.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name",
                  "delivery"));
      JsonNode from = rendered.one("NetworkPolicy").at("/spec/ingress/0/from/0");
      assertThat(from.at("/podSelector/matchLabels/app.kubernetes.io~1name").asText())
          .isEqualTo("rollouts");
      assertThat(from.at("/namespaceSelector/matchLabels/kubernetes.io~1metadata.name").asText())
          .isEqualTo("delivery");
    }

    @Test
    @DisplayName(
        "When leader election's and TokenReview's RBAC is switched off, then leases and"
            + " tokenreviews go")
    void optionalRbac() throws IOException {
      Rendered rendered =
          render(
              Map.of(
                  "server.prometheusUrl",
                  PROMETHEUS,
                  "rbac.leaderElection",
                  false,
                  "rbac.tokenReview",
                  false));
      assertThat(rendered.all("Role")).isEmpty();
      assertThat(rendered.all("RoleBinding")).isEmpty();
      assertThat(rendered.one("ClusterRole").path("rules").findValuesAsText("resources"))
          .doesNotContain("tokenreviews");
      assertThat(rendered.one("ClusterRole").toString()).doesNotContain("tokenreviews");
      assertThat(texts(container(rendered).path("args"))).contains("--leader-election=false");
    }

    @Test
    @DisplayName(
        "When rendered with defaults, then calls are authenticated and only Argo's controller is"
            + " admitted")
    void authByDefault() throws IOException {
      Rendered rendered = defaults();
      assertThat(texts(container(rendered).path("args")))
          .contains(
              "--auth-mode=tokenreview", "--allowed-service-accounts=argo-rollouts:argo-rollouts")
          .noneMatch(arg -> arg.startsWith("--tls-") || arg.startsWith("--auth-audiences"));
      assertThat(rendered.one("ClusterRole").toString()).contains("tokenreviews");
    }

    @Test
    @DisplayName("When TLS is on, then the Secret is mounted read-only and passed as cert and key")
    void tls() throws IOException {
      Rendered rendered =
          render(
              Map.of(
                  "tls.enabled", true,
                  "tls.secretName", "weighbridge-tls",
                  "auth.audiences[0]", "weighbridge"));
      assertThat(texts(container(rendered).path("args")))
          .contains(
              "--tls-cert-file=/etc/weighbridge/tls/tls.crt",
              "--tls-key-file=/etc/weighbridge/tls/tls.key",
              "--auth-audiences=weighbridge");
      JsonNode pod = rendered.one("Deployment").at("/spec/template/spec");
      assertThat(pod.path("volumes").findValuesAsText("secretName"))
          .containsExactly("weighbridge-tls");
      JsonNode mount =
          StreamSupport.stream(container(rendered).path("volumeMounts").spliterator(), false)
              .filter(m -> m.path("name").asText().equals("tls"))
              .findFirst()
              .orElseThrow();
      assertThat(mount.path("mountPath").asText()).isEqualTo("/etc/weighbridge/tls");
      assertThat(mount.path("readOnly").asBoolean()).isTrue();
    }

    @Test
    void tlsNeedsASecret() {
      assertThatThrownBy(() -> render(Map.of("tls.enabled", true)))
          .hasMessageContaining("tls.secretName must name a kubernetes.io/tls Secret");
    }

    @Test
    void authCanBeSwitchedOff() throws IOException {
      assertThat(texts(container(render(Map.of("auth.mode", "none"))).path("args")))
          .contains("--auth-mode=none")
          .noneMatch(arg -> arg.startsWith("--allowed-service-accounts"));
    }

    @Test
    @DisplayName(
        "When no ServiceAccount is created and none is named, then rendering fails and says why")
    void existingServiceAccountNeedsAName() {
      assertThatThrownBy(() -> render(Map.of("serviceAccount.create", false)))
          .hasMessageContaining("serviceAccount.name is required");
    }

    @Test
    @DisplayName(
        "When monitoring is on but the cluster has no Prometheus Operator CRDs, then neither"
            + " ServiceMonitor nor PrometheusRule is rendered (the install would fail)")
    void monitoringNeedsTheOperatorsCrds() throws IOException {
      Rendered rendered =
          render(Map.of("serviceMonitor.enabled", true, "prometheusRule.enabled", true));
      assertThat(rendered.all("ServiceMonitor")).isEmpty();
      assertThat(rendered.all("PrometheusRule")).isEmpty();
    }
  }

  @Nested
  @DisplayName("the NetworkPolicy and Argo Rollouts' controller pods")
  class ArgoControllerPods {

    private static final Map<String, String> ARGO_NAMESPACE =
        Map.of("kubernetes.io/metadata.name", "argo-rollouts");

    /**
     * The controller's pod labels in the argo-rollouts Helm chart (argo-helm): its selectorLabels
     * (name, instance) and {@code controller.component}, default rollouts-controller.
     */
    private static final Map<String, String> ARGO_HELM_CONTROLLER =
        Map.of(
            "app.kubernetes.io/name", "argo-rollouts",
            "app.kubernetes.io/instance", "argo-rollouts",
            "app.kubernetes.io/component", "rollouts-controller");

    /** The dashboard's pod labels in argo-helm: the same name, another component. */
    private static final Map<String, String> ARGO_HELM_DASHBOARD =
        Map.of(
            "app.kubernetes.io/name", "argo-rollouts",
            "app.kubernetes.io/instance", "argo-rollouts",
            "app.kubernetes.io/component", "rollouts-dashboard");

    @Test
    @DisplayName(
        "When Argo runs from its own manifests/install.yaml (read from the argo-rollouts Go"
            + " module), then its controller pods may download the connector and call gRPC")
    void admitsInstallYamlController() throws IOException, InterruptedException {
      Map<String, String> labels = ArgoInstallManifest.controllerPodLabels();
      assertThat(labels).containsEntry("app.kubernetes.io/name", "argo-rollouts");
      JsonNode policy = defaults().one("NetworkPolicy");
      assertThat(NetworkPolicies.admits(policy, "grpc", labels, ARGO_NAMESPACE))
          .as("gRPC from install.yaml's controller pod %s", labels)
          .isTrue();
      assertThat(NetworkPolicies.admits(policy, "http", labels, ARGO_NAMESPACE))
          .as("connector download by install.yaml's controller pod %s", labels)
          .isTrue();
    }

    @Test
    @DisplayName(
        "When Argo runs from the argo-rollouts Helm chart, then its controller pods are admitted"
            + " and its dashboard is not")
    void admitsArgoHelmControllerOnly() throws IOException {
      JsonNode policy = defaults().one("NetworkPolicy");
      for (String port : List.of("grpc", "http")) {
        assertThat(NetworkPolicies.admits(policy, port, ARGO_HELM_CONTROLLER, ARGO_NAMESPACE))
            .as("%s from argo-helm's controller", port)
            .isTrue();
        assertThat(NetworkPolicies.admits(policy, port, ARGO_HELM_DASHBOARD, ARGO_NAMESPACE))
            .as("%s from argo-helm's dashboard", port)
            .isFalse();
      }
    }

    @Test
    @DisplayName(
        "When another pod, or the controller's labels in another namespace, call, then gRPC is"
            + " refused")
    void refusesOthers() throws IOException {
      JsonNode policy = defaults().one("NetworkPolicy");
      assertThat(NetworkPolicies.admits(policy, "grpc", Map.of("app", "curl"), ARGO_NAMESPACE))
          .isFalse();
      assertThat(
              NetworkPolicies.admits(
                  policy,
                  "grpc",
                  ARGO_HELM_CONTROLLER,
                  Map.of("kubernetes.io/metadata.name", "default")))
          .isFalse();
      assertThat(
              NetworkPolicies.admits(
                  policy, "http", Map.of(), Map.of("kubernetes.io/metadata.name", "monitoring")))
          .as("Prometheus' namespace scrapes /metrics")
          .isTrue();
      assertThat(
              NetworkPolicies.admits(
                  policy, "grpc", Map.of(), Map.of("kubernetes.io/metadata.name", "monitoring")))
          .isFalse();
    }
  }

  @Nested
  @DisplayName("values.schema.json")
  class Schema {

    @Test
    @DisplayName("When a key is misspelt (replicas for replicaCount), then the install is refused")
    void unknownKey() {
      assertThatThrownBy(() -> render(Map.of("replicas", 3)))
          .hasMessageContaining("replicas")
          .hasMessageContaining("Additional property");
    }

    @Test
    @DisplayName("When a port is not a number, then the install is refused naming the key")
    void portNotANumber() {
      assertThatThrownBy(() -> render(Map.of("server.grpcPort", "abc")))
          .hasMessageContaining("server.grpcPort");
      assertThatThrownBy(() -> render(Map.of("service.httpPort", 70000)))
          .hasMessageContaining("service.httpPort");
    }

    @Test
    @DisplayName("When an enumerated value is wrong, then the install is refused naming the key")
    void badEnumerations() {
      assertThatThrownBy(() -> render(Map.of("auth.mode", "tokenreviews")))
          .hasMessageContaining("auth.mode");
      assertThatThrownBy(() -> render(Map.of("server.logFormat", "xml")))
          .hasMessageContaining("server.logFormat");
      assertThatThrownBy(() -> render(Map.of("auth.allowedServiceAccounts[0]", "argo-rollouts")))
          .hasMessageContaining("auth.allowedServiceAccounts");
      assertThatThrownBy(() -> render(Map.of("server.prometheusUrl", "prometheus:9090")))
          .hasMessageContaining("server.prometheusUrl");
    }

    @Test
    @DisplayName(
        "When auth.mode is tokenReview (another case), then it is tokenreview everywhere: the"
            + " flags, the allowed accounts and the --token-file in NOTES")
    void authModeIsCaseInsensitive() throws IOException {
      Map<String, Object> values = Map.of("auth.mode", "tokenReview");
      assertThat(texts(container(render(values)).path("args")))
          .contains(
              "--auth-mode=tokenreview", "--allowed-service-accounts=argo-rollouts:argo-rollouts");
      assertThat(notes(values))
          .contains("--token-file=/var/run/secrets/kubernetes.io/serviceaccount/token")
          .contains("Calls are authenticated (auth.mode=tokenreview)")
          .doesNotContain("auth.mode=none");
      assertThat(texts(container(render(Map.of("auth.mode", "NONE"))).path("args")))
          .contains("--auth-mode=none")
          .noneMatch(arg -> arg.startsWith("--allowed-service-accounts"));
    }
  }

  @Nested
  @DisplayName("helm template with the values operators need")
  class OperatorValues {

    @Test
    @DisplayName(
        "When a Secret is mounted with extraVolumes, then Prometheus' CA and token files can come"
            + " from it")
    void extraVolumes() throws IOException {
      Rendered rendered =
          render(
              Map.of(
                  "server.prometheusUrl", "https://prometheus.monitoring:9091",
                  "server.prometheusCaFile", "/etc/prometheus/ca.crt",
                  "server.prometheusBearerTokenFile", "/etc/prometheus/token",
                  "extraVolumes[0].name", "prometheus",
                  "extraVolumes[0].secret.secretName", "prometheus-client",
                  "extraVolumeMounts[0].name", "prometheus",
                  "extraVolumeMounts[0].mountPath", "/etc/prometheus",
                  "extraVolumeMounts[0].readOnly", true));
      JsonNode pod = rendered.one("Deployment").at("/spec/template/spec");
      assertThat(pod.path("volumes").findValuesAsText("name")).containsExactly("tmp", "prometheus");
      assertThat(pod.path("volumes").findValuesAsText("secretName"))
          .containsExactly("prometheus-client");
      JsonNode mounts = container(rendered).path("volumeMounts");
      assertThat(mounts.findValuesAsText("mountPath")).containsExactly("/tmp", "/etc/prometheus");
      assertThat(mounts.get(1).path("readOnly").asBoolean()).isTrue();
      assertThat(texts(container(rendered).path("args")))
          .contains(
              "--prometheus-url=https://prometheus.monitoring:9091",
              "--prometheus-ca-file=/etc/prometheus/ca.crt",
              "--prometheus-bearer-token-file=/etc/prometheus/token");
    }

    @Test
    @DisplayName(
        "When jvmOptions are set, then they follow the image's flags in JDK_JAVA_OPTIONS and so"
            + " win; jvmImageOptions equal the Dockerfile's")
    void jvmOptionsOverrideTheImage() throws IOException {
      Map<String, String> env = env(render(Map.of("jvmOptions", "-XX:MaxRAMPercentage=60")));
      String image = dockerfileJdkJavaOptions();
      assertThat(env).doesNotContainKey("JAVA_TOOL_OPTIONS");
      assertThat(env.get("JDK_JAVA_OPTIONS")).isEqualTo(image + " -XX:MaxRAMPercentage=60");
      assertThat(env(defaults()))
          .as("without jvmOptions the image's own JDK_JAVA_OPTIONS stay")
          .doesNotContainKey("JDK_JAVA_OPTIONS");
    }

    @Test
    @DisplayName(
        "When a second release of the same name goes to another namespace, then no cluster-scoped"
            + " object has the same name")
    void secondRelease() throws IOException {
      Rendered first = render(Map.of());
      Rendered second = render("delivery", Map.of());
      for (String kind : List.of("ClusterRole", "ClusterRoleBinding")) {
        assertThat(first.one(kind).at("/metadata/name").asText())
            .isEqualTo("weighbridge-argo-rollouts");
        assertThat(second.one(kind).at("/metadata/name").asText())
            .isEqualTo("weighbridge-delivery");
      }
      assertThat(second.one("ClusterRoleBinding").at("/roleRef/name").asText())
          .isEqualTo("weighbridge-delivery");
      assertThat(second.one("ClusterRoleBinding").at("/subjects/0/namespace").asText())
          .isEqualTo("delivery");
    }

    @Test
    @DisplayName(
        "When NOTES and the README tell how to get the sha256, then both give the command that"
            + " prints only the 64 hex digits")
    void sha256Command() throws IOException {
      String command =
          "kubectl -n argo-rollouts exec deploy/weighbridge -- cat"
              + " /opt/weighbridge/connector/weighbridge-connector-linux-amd64.sha256 | cut -d' '"
              + " -f1";
      assertThat(notes(Map.of())).contains("  " + command + "\n");
      assertThat(Files.readString(CHART.resolve("README.md"))).contains(command + "\n");
      assertThat(notes(Map.of())).doesNotContain("cat ….sha256", "<hex digest");
    }

    private static Map<String, String> env(Rendered rendered) {
      Map<String, String> env = new TreeMap<>();
      container(rendered)
          .path("env")
          .forEach(e -> env.put(e.path("name").asText(), e.path("value").asText()));
      return env;
    }

    private static String dockerfileJdkJavaOptions() throws IOException {
      String dockerfile = Files.readString(CHART.resolve("../../Dockerfile"));
      Matcher m = Pattern.compile("ENV JDK_JAVA_OPTIONS=\"([^\"]+)\"").matcher(dockerfile);
      assertThat(m.find()).as("the Dockerfile sets JDK_JAVA_OPTIONS").isTrue();
      return m.group(1);
    }
  }

  @Test
  @DisplayName(
      "When an operator reads the README, then it holds both ways to register the connector")
  void readmeHasRegistrationSnippets() throws IOException {
    String readme = Files.readString(CHART.resolve("README.md"));
    String notes = Files.readString(CHART.resolve("templates/NOTES.txt"));
    for (String text : List.of(readme, notes)) {
      assertThat(text)
          .contains(
              "name: argo-rollouts-config",
              "trafficRouterPlugins: |",
              "- name: weighbridge/gateway-api",
              "sha256:",
              "controller:\n  trafficRouterPlugins:",
              "--plugin-name=weighbridge/gateway-api");
    }
    assertThat(readme)
        .contains(
            "--server=weighbridge.argo-rollouts.svc:9090",
            "location: http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64",
            "--token-file=/var/run/secrets/kubernetes.io/serviceaccount/token");
  }
}
