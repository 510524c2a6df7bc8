package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Installs charts/weighbridge with helm-java (Helm's own install action) into a real
 * kube-apiserver: the API server validates every object, and Helm's ownership checks and
 * .Capabilities are those of a cluster. No pods run (there is no kubelet); the install is not
 * waited on.
 */
@WithKubeApiServer(
    gatewayApi = "",
    argoRollouts = false) // no CRDs: the chart needs none to install
class ChartInstallIT {

  private static final Path CHART =
      Path.of(System.getProperty("weighbridge.chart", "weighbridge")).toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Release install(
      KubeApiServer server, String release, String namespace, Map<String, Object> values) {
    InstallCommand install =
        new Helm(CHART)
            .install()
            .withName(release)
            .withNamespace(namespace)
            .withKubeConfig(server.kubeconfig());
    for (Map.Entry<String, Object> value : values.entrySet()) {
      install = install.set(value.getKey(), value.getValue());
    }
    return install.call();
  }

  private static void uninstall(KubeApiServer server, String release, String namespace) {
    new Helm(CHART)
        .uninstall(release)
        .withNamespace(namespace)
        .withKubeConfig(server.kubeconfig())
        .ignoreNotFound()
        .call();
  }

  @Nested
  @DisplayName("two releases")
  class TwoReleases {

    @Test
    @DisplayName(
        "When the same release name is installed in two namespaces, then both install, each with"
            + " its own ClusterRole bound to its own ServiceAccount")
    void secondReleaseInAnotherNamespace(
        KubeApiServer server, KubernetesClient client, TestNamespace first) {
      String second = first.name() + "-b";
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(second).endMetadata().build())
          .create();
      try {
        assertThat(install(server, "weighbridge", first.name(), Map.of()).getStatus())
            .isEqualTo("deployed");
        assertThat(install(server, "weighbridge", second, Map.of()).getStatus())
            .isEqualTo("deployed");
        for (String ns : List.of(first.name(), second)) {
          var binding = client.rbac().clusterRoleBindings().withName("weighbridge-" + ns).require();
          assertThat(binding.getSubjects().get(0).getNamespace()).isEqualTo(ns);
          assertThat(client.rbac().clusterRoles().withName("weighbridge-" + ns).get()).isNotNull();
          assertThat(client.apps().deployments().inNamespace(ns).withName("weighbridge").get())
              .isNotNull();
          assertThat(
                  client
                      .network()
                      .v1()
                      .networkPolicies()
                      .inNamespace(ns)
                      .withName("weighbridge")
                      .get())
              .isNotNull();
        }
      } finally {
        uninstall(server, "weighbridge", first.name());
        uninstall(server, "weighbridge", second);
        client.namespaces().withName(second).delete();
      }
    }
  }

  @Nested
  @DisplayName("ServiceMonitor and PrometheusRule")
  class Monitoring {

    @Test
    @DisplayName(
        "When the Prometheus Operator's CRDs are missing, then the install still succeeds without"
            + " them and NOTES say so; when they are served, then both are created")
    void onlyWithTheOperatorsCrds(
        KubeApiServer server, KubernetesClient client, TestNamespace namespace) throws Exception {
      Map<String, Object> values =
          Map.of("serviceMonitor.enabled", true, "prometheusRule.enabled", true);
      boolean served =
          client.apiextensions().v1().customResourceDefinitions().list().getItems().stream()
              .anyMatch(crd -> crd.getSpec().getGroup().equals("monitoring.coreos.com"));
      if (!served) {
        Release without = install(server, "without-crds", namespace.name(), values);
        assertThat(without.getStatus()).isEqualTo("deployed");
        assertThat(without.getOutput())
            .contains(
                "WARNING: serviceMonitor.enabled, but the cluster does not serve"
                    + " monitoring.coreos.com/v1 ServiceMonitor",
                "WARNING: prometheusRule.enabled, but the cluster does not serve");
        uninstall(server, "without-crds", namespace.name());
        // A minimal stand-in for the Prometheus Operator's CRDs: only their group, version and
        // kinds
        // matter to .Capabilities.APIVersions.Has.
        for (String kind : List.of("ServiceMonitor", "PrometheusRule")) {
          client.apiextensions().v1().customResourceDefinitions().resource(crd(kind)).create();
        }
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  client.getApiResources("monitoring.coreos.com/v1") != null
                      && client.getApiResources("monitoring.coreos.com/v1").getResources().size()
                          >= 2);

      Release with = install(server, "weighbridge", namespace.name(), values);
      try {
        assertThat(with.getOutput()).doesNotContain("WARNING: serviceMonitor.enabled");
        JsonNode endpoints = monitoring(client, namespace, "ServiceMonitor").at("/spec/endpoints");
        assertThat(endpoints.at("/0/port").asText()).isEqualTo("http");
        assertThat(endpoints.at("/0/path").asText()).isEqualTo("/metrics");
        assertAlerts(
            monitoring(client, namespace, "PrometheusRule").at("/spec/groups/0/rules"),
            "job=\"weighbridge\",namespace=\"" + namespace.name() + "\"");
      } finally {
        uninstall(server, "weighbridge", namespace.name());
      }
    }

    /** The release's monitoring.coreos.com/v1 object of that kind, as JSON. */
    private static JsonNode monitoring(
        KubernetesClient client, TestNamespace namespace, String kind) {
      GenericKubernetesResource object =
          client
              .genericKubernetesResources("monitoring.coreos.com/v1", kind)
              .inNamespace(namespace.name())
              .withName("weighbridge")
              .require();
      return JSON.valueToTree(object.getAdditionalProperties());
    }

    /** Each alert queries a metric plugin-server exports, for this release's job. */
    private static void assertAlerts(JsonNode rules, String job) {
      Map<String, String> alerts = new TreeMap<>();
      rules.forEach(r -> alerts.put(r.path("alert").asText(), r.path("expr").asText()));
      assertThat(alerts)
          .containsOnlyKeys(
              "WeighbridgeDown",
              "WeighbridgeGrpcErrorRatioHigh",
              "WeighbridgeGrpcLatencyHigh",
              "WeighbridgeDriftRestorations",
              "WeighbridgeKubernetesApiDown");
      assertThat(alerts.get("WeighbridgeDown")).isEqualTo("absent(up{" + job + "} == 1)");
      assertThat(alerts.get("WeighbridgeGrpcErrorRatioHigh"))
          .contains(
              "grpc_server_handled_total{" + job + ",grpc_code!=\"OK\"}",
              "grpc_server_handled_total{" + job + "}",
              "> 0.05");
      assertThat(alerts.get("WeighbridgeGrpcLatencyHigh"))
          .contains("grpc_server_handling_seconds_bucket{" + job + "}", "> 2");
      assertThat(alerts.get("WeighbridgeDriftRestorations"))
          .contains("weighbridge_routing_drift_restorations_total{" + job + "}", "> 3");
      assertThat(alerts.get("WeighbridgeKubernetesApiDown"))
          .contains("weighbridge_kubernetes_api_up{" + job + "}");
      rules.forEach(r -> assertThat(r.at("/labels/severity").asText()).isNotEmpty());
    }

    private static CustomResourceDefinition crd(String kind) {
      String plural = kind.toLowerCase() + "s";
      return new CustomResourceDefinitionBuilder()
          .withNewMetadata()
          .withName(plural + ".monitoring.coreos.com")
          .endMetadata()
          .withNewSpec()
          .withGroup("monitoring.coreos.com")
          .withScope("Namespaced")
          .withNewNames()
          .withKind(kind)
          .withPlural(plural)
          .withSingular(kind.toLowerCase())
          .withListKind(kind + "List")
          .endNames()
          .addNewVersion()
          .withName("v1")
          .withServed(true)
          .withStorage(true)
          .withNewSchema()
          .withNewOpenAPIV3Schema()
          .withType("object")
          .withXKubernetesPreserveUnknownFields(true)
          .endOpenAPIV3Schema()
          .endSchema()
          .endVersion()
          .endSpec()
          .build();
    }
  }
}
