package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
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
    TemplateCommand template = new Helm(CHART).template().withName(RELEASE);
    template = template.withNamespace(NAMESPACE);
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

  private static Map<String, String> strings(JsonNode object) {
    Map<String, String> map = new TreeMap<>();
    object.properties().forEach(e -> map.put(e.getKey(), e.getValue().asText()));
    return map;
  }

  private static List<String> texts(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
  }

  private static JsonNode container(Rendered rendered) {
    JsonNode containers = rendered.one("Deployment").path("spec").path("template").path("spec");
    assertThat(containers.path("containers")).hasSize(1);
    return containers.path("containers").get(0);
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
    @DisplayName("When rendered, then exactly the workload, network and RBAC objects come out")
    void renderedKinds() throws IOException {
      assertThat(defaults().kinds())
          .containsExactlyInAnyOrder(
              "ServiceAccount",
              "Service",
              "Deployment",
              "ClusterRole",
              "ClusterRoleBinding",
              "Role",
              "RoleBinding",
              "ValidatingAdmissionPolicy",
              "ValidatingAdmissionPolicyBinding",
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
    @DisplayName("When rendered, then the ClusterRole grants exactly the verbs plugin-server uses")
    void clusterRoleIsLeastPrivilege() throws IOException {
      Rendered rendered = defaults();
      JsonNode rules = rendered.one("ClusterRole").path("rules");
      Map<String, List<String>> grants = new TreeMap<>();
      for (JsonNode rule : rules) {
        for (JsonNode group : rule.path("apiGroups")) {
          for (JsonNode resource : rule.path("resources")) {
            String key = group.asText() + "/" + resource.asText();
            assertThat(grants).as("one rule per resource").doesNotContainKey(key);
            grants.put(key, texts(rule.path("verbs")));
          }
        }
      }
      List<String> routeVerbs = List.of("get", "list", "watch", "patch");
      assertThat(grants)
          .containsExactlyInAnyOrderEntriesOf(
              Map.of(
                  "gateway.networking.k8s.io/httproutes", routeVerbs,
                  "gateway.networking.k8s.io/grpcroutes", routeVerbs,
                  "gateway.networking.k8s.io/tcproutes", routeVerbs,
                  "gateway.networking.k8s.io/tlsroutes", routeVerbs,
                  "/services", List.of("get"),
                  "apiextensions.k8s.io/customresourcedefinitions", List.of("get"),
                  "argoproj.io/rollouts", List.of("get", "list", "watch", "patch"),
                  "argoproj.io/rollouts/status", List.of("patch"),
                  "/events", List.of("create"),
                  "authentication.k8s.io/tokenreviews", List.of("create")));
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
              "tlsroutes.gateway.networking.k8s.io");
    }

    @Test
    @DisplayName(
        "When rendered, then the Rollout policy judges only the chart's ServiceAccount, and"
            + " rbac.rolloutPolicy=false leaves it out")
    void rolloutPolicyMatchesTheServiceAccount() throws IOException {
      Rendered rendered = defaults();
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
      assertThat(render(Map.of("rbac.rolloutPolicy", false)).kinds())
          .doesNotContain("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding");
    }

    @Test
    @DisplayName(
        "When rendered, then no RBAC rule holds a wildcard and leases stay in the namespace")
    void noWildcardsAndNamespacedLeases() throws IOException {
      Rendered rendered = defaults();
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
      assertThat(texts(role.at("/rules/0/verbs")))
          .containsExactly("get", "create", "update", "patch");

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
    @DisplayName("When rendered, then only Argo's controller pods may reach the gRPC port")
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
      assertThat(grpc.path("from")).hasSize(1);
      assertThat(strings(grpc.at("/from/0/podSelector/matchLabels")))
          .containsExactly(
              Map.entry("app.kubernetes.io/component", "rollouts-controller"),
              Map.entry("app.kubernetes.io/name", "argo-rollouts"));
      assertThat(strings(grpc.at("/from/0/namespaceSelector/matchLabels")))
          .containsExactly(Map.entry("kubernetes.io/metadata.name", "argo-rollouts"));

      JsonNode metrics = ingress.get(1);
      assertThat(metrics.at("/ports").findValuesAsText("port")).containsExactly("http");
      assertThat(metrics.at("/from/0/podSelector").isMissingNode()).isTrue();
      assertThat(strings(metrics.at("/from/0/namespaceSelector/matchLabels")))
          .containsExactly(Map.entry("kubernetes.io/metadata.name", "monitoring"));
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
                  "networkPolicy.argoRollouts.podSelector.matchLabels.app\\.kubernetes\\.io/name",
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
      Rendered rendered = render(Map.of("rbac.leaderElection", false, "rbac.tokenReview", false));
      assertThat(rendered.all("Role")).isEmpty();
      assertThat(rendered.all("RoleBinding")).isEmpty();
      assertThat(rendered.one("ClusterRole").path("rules").findValuesAsText("resources"))
          .doesNotContain("tokenreviews");
      assertThat(rendered.one("ClusterRole").toString()).doesNotContain("tokenreviews");
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
        "When rendered, then Argo's controller pods may reach the HTTP port to download the"
            + " connector")
    void networkPolicyAdmitsConnectorDownloads() throws IOException {
      JsonNode http = defaults().one("NetworkPolicy").at("/spec/ingress/1");
      assertThat(http.at("/ports").findValuesAsText("port")).containsExactly("http");
      assertThat(http.path("from")).hasSize(2);
      assertThat(strings(http.at("/from/1/podSelector/matchLabels")))
          .containsEntry("app.kubernetes.io/component", "rollouts-controller");
      assertThat(strings(http.at("/from/1/namespaceSelector/matchLabels")))
          .containsExactly(Map.entry("kubernetes.io/metadata.name", "argo-rollouts"));
    }

    @Test
    @DisplayName(
        "When no ServiceAccount is created and none is named, then rendering fails and says why")
    void existingServiceAccountNeedsAName() {
      assertThatThrownBy(() -> render(Map.of("serviceAccount.create", false)))
          .hasMessageContaining("serviceAccount.name is required");
    }

    @Test
    @DisplayName("When monitoring is on, then a ServiceMonitor scrapes /metrics on the HTTP port")
    void serviceMonitor() throws IOException {
      Rendered rendered = render(Map.of("serviceMonitor.enabled", true));
      JsonNode endpoints = rendered.one("ServiceMonitor").at("/spec/endpoints");
      assertThat(endpoints).hasSize(1);
      assertThat(endpoints.at("/0/port").asText()).isEqualTo("http");
      assertThat(endpoints.at("/0/path").asText()).isEqualTo("/metrics");
      assertThat(strings(rendered.one("Service").at("/metadata/labels")))
          .containsAllEntriesOf(
              strings(rendered.one("ServiceMonitor").at("/spec/selector/matchLabels")));
    }

    @Test
    @DisplayName(
        "When alerts are on, then each alert queries a metric plugin-server exports, for this job")
    void prometheusRule() throws IOException {
      Rendered rendered =
          render(Map.of("serviceMonitor.enabled", true, "prometheusRule.enabled", true));
      JsonNode rules = rendered.one("PrometheusRule").at("/spec/groups/0/rules");
      Map<String, String> alerts = new TreeMap<>();
      rules.forEach(r -> alerts.put(r.path("alert").asText(), r.path("expr").asText()));
      assertThat(alerts)
          .containsOnlyKeys(
              "WeighbridgeDown",
              "WeighbridgeGrpcErrorRatioHigh",
              "WeighbridgeGrpcLatencyHigh",
              "WeighbridgeDriftRestorations",
              "WeighbridgeKubernetesApiDown");
      String job = "job=\"weighbridge\",namespace=\"argo-rollouts\"";
      assertThat(alerts.get("WeighbridgeDown")).isEqualTo("absent(up{" + job + "} == 1)");
      assertThat(alerts.get("WeighbridgeGrpcErrorRatioHigh"))
          .contains(
              "grpc_server_processing_duration_seconds_count{" + job + ",statusCode!=\"OK\"}",
              "> 0.05");
      assertThat(alerts.get("WeighbridgeGrpcLatencyHigh"))
          .contains("grpc_server_processing_duration_seconds_bucket{" + job + "}", "> 2");
      assertThat(alerts.get("WeighbridgeDriftRestorations"))
          .contains("weighbridge_routing_drift_restorations_total{" + job + "}", "> 3");
      assertThat(alerts.get("WeighbridgeKubernetesApiDown"))
          .contains("weighbridge_kubernetes_api_up{" + job + "}");
      rules.forEach(r -> assertThat(r.at("/labels/severity").asText()).isNotEmpty());
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
