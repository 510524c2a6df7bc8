package io.weighbridge.charts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The chart's RBAC and its ValidatingAdmissionPolicy applied to a real kube-apiserver (v1.34, where
 * admissionregistration.k8s.io/v1 policies are on by default), acting as the chart's
 * ServiceAccount: it may pause and abort a Rollout, nothing else (issue 11).
 */
@WithKubeApiServer(gatewayApi = "")
class RolloutPolicyIT {

  private static final Path CHART =
      Path.of(System.getProperty("weighbridge.chart", "weighbridge")).toAbsolutePath();
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ResourceDefinitionContext ROLLOUTS =
      new ResourceDefinitionContext.Builder()
          .withGroup("argoproj.io")
          .withVersion("v1alpha1")
          .withKind("Rollout")
          .withPlural("rollouts")
          .withNamespaced(true)
          .build();
  private static final Set<String> APPLIED =
      Set.of(
          "ServiceAccount",
          "ClusterRole",
          "ClusterRoleBinding",
          "ValidatingAdmissionPolicy",
          "ValidatingAdmissionPolicyBinding");
  private static final PatchContext MERGE = PatchContext.of(PatchType.JSON_MERGE);

  /** The chart's RBAC (and policy) objects, rendered as release {@code release} into {@code ns}. */
  private static List<GenericKubernetesResource> render(
      KubernetesClient admin, String release, String ns, Map<String, Object> values)
      throws IOException {
    TemplateCommand template = new Helm(CHART).template().withName(release).withNamespace(ns);
    for (Map.Entry<String, Object> value : values.entrySet()) {
      template = template.set(value.getKey(), value.getValue());
    }
    List<GenericKubernetesResource> out = new ArrayList<>();
    try (var parser = YAML.createParser(template.call())) {
      YAML.readValues(parser, JsonNode.class)
          .forEachRemaining(
              doc -> {
                if (doc != null && APPLIED.contains(doc.path("kind").asText())) {
                  out.add(
                      admin
                          .getKubernetesSerialization()
                          .unmarshal(doc.toString(), GenericKubernetesResource.class));
                }
              });
    }
    return out;
  }

  /** Installs the rendered objects, runs {@code test} as the chart's ServiceAccount, cleans up. */
  private static void asChartServiceAccount(
      KubeApiServer server,
      KubernetesClient admin,
      String ns,
      Map<String, Object> values,
      ThrowingConsumer test)
      throws Exception {
    String release = "wb-" + ns;
    List<GenericKubernetesResource> objects = render(admin, release, ns, values);
    try {
      objects.forEach(o -> admin.resource(o).serverSideApply());
      String account =
          objects.stream()
              .filter(o -> o.getKind().equals("ServiceAccount"))
              .findFirst()
              .orElseThrow()
              .getMetadata()
              .getName();
      try (KubernetesClient sa =
          new KubernetesClientBuilder()
              .withConfig(server.serviceAccountConfig(ns, account))
              .build()) {
        test.accept(sa);
      }
    } finally {
      objects.stream()
          .filter(o -> o.getMetadata() != null && o.getMetadata().getNamespace() == null)
          .forEach(o -> admin.resource(o).delete());
    }
  }

  /** A test body that may throw. */
  @FunctionalInterface
  private interface ThrowingConsumer {
    void accept(KubernetesClient serviceAccount) throws Exception;
  }

  private static void createRollout(KubernetesClient admin, String ns, String name) {
    admin
        .genericKubernetesResources(ROLLOUTS)
        .inNamespace(ns)
        .resource(
            admin
                .getKubernetesSerialization()
                .unmarshal(
                    """
                    {"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout",
                     "metadata":{"name":"%s","labels":{"app":"%s"}},
                     "spec":{"replicas":1,"selector":{"matchLabels":{"app":"%s"}},
                      "template":{"metadata":{"labels":{"app":"%s"}},
                       "spec":{"serviceAccountName":"default",
                        "containers":[{"name":"web","image":"example/web:1"}]}},
                      "strategy":{"canary":{"steps":[{"setWeight":5},{"pause":{}}]}}}}
                    """
                        .formatted(name, name, name, name),
                    GenericKubernetesResource.class))
        .create();
  }

  /** A field of a generic object, typed as Object for AssertJ. */
  private static Object field(GenericKubernetesResource object, Object... path) {
    return object.get(path);
  }

  private static Resource<GenericKubernetesResource> rollout(
      KubernetesClient client, String ns, String name) {
    return client.genericKubernetesResources(ROLLOUTS).inNamespace(ns).withName(name);
  }

  private static final String TEMPLATE_PATCH =
      "{\"spec\":{\"template\":{\"spec\":{\"serviceAccountName\":\"admin\","
          + "\"containers\":[{\"name\":\"web\",\"image\":\"attacker/miner:1\"}]}}}}";

  @Nested
  @DisplayName("When the chart is installed with its defaults (rolloutPolicy on)")
  class WithPolicy {

    @Test
    @DisplayName(
        "When its ServiceAccount pauses and aborts a Rollout, then both work; any other change is"
            + " refused")
    void pauseAndAbortOnly(KubeApiServer server, KubernetesClient admin, TestNamespace namespace)
        throws Exception {
      String ns = namespace.name();
      createRollout(admin, ns, "probe");
      createRollout(admin, ns, "app");
      asChartServiceAccount(
          server,
          admin,
          ns,
          Map.of(),
          sa -> {
            // The policy takes effect a moment after it is created: probe on a throwaway Rollout.
            await()
                .atMost(Duration.ofSeconds(60))
                .until(
                    () -> {
                      try {
                        rollout(sa, ns, "probe").patch(MERGE, TEMPLATE_PATCH);
                        return false;
                      } catch (KubernetesClientException e) {
                        return e.getCode() == 403
                            && e.getMessage().contains("may change only spec.paused");
                      }
                    });

            // What plugin-server sends: pause, then abort.
            rollout(sa, ns, "app").patch(MERGE, "{\"spec\":{\"paused\":true}}");
            rollout(sa, ns, "app")
                .subresource("status")
                .patch(MERGE, "{\"status\":{\"abort\":true}}");
            GenericKubernetesResource after = rollout(admin, ns, "app").get();
            assertThat(field(after, "spec", "paused")).isEqualTo(true);
            assertThat(field(after, "status", "abort")).isEqualTo(true);

            assertThatThrownBy(() -> rollout(sa, ns, "app").patch(MERGE, TEMPLATE_PATCH))
                .isInstanceOfSatisfying(
                    KubernetesClientException.class,
                    e -> {
                      assertThat(e.getCode()).isEqualTo(403);
                      assertThat(e.getMessage())
                          .contains("may change only spec.paused, and only to true");
                    });
            assertThatThrownBy(
                    () -> rollout(sa, ns, "app").patch(MERGE, "{\"spec\":{\"paused\":false}}"))
                .hasMessageContaining("may change only spec.paused, and only to true");
            assertThatThrownBy(
                    () -> rollout(sa, ns, "app").patch(MERGE, "{\"spec\":{\"replicas\":50}}"))
                .hasMessageContaining("may change only spec.paused");
            assertThatThrownBy(
                    () ->
                        rollout(sa, ns, "app")
                            .patch(MERGE, "{\"metadata\":{\"labels\":{\"app\":\"other\"}}}"))
                .hasMessageContaining("may not change a Rollout's labels");
            assertThatThrownBy(
                    () ->
                        rollout(sa, ns, "app")
                            .subresource("status")
                            .patch(MERGE, "{\"status\":{\"abort\":false,\"phase\":\"Healthy\"}}"))
                .hasMessageContaining("may change only status.abort, and only to true");
            assertThatThrownBy(() -> rollout(sa, ns, "app").delete())
                .isInstanceOf(KubernetesClientException.class);

            GenericKubernetesResource still = rollout(admin, ns, "app").get();
            assertThat(field(still, "spec", "template", "spec", "serviceAccountName"))
                .isEqualTo("default");
            assertThat(field(still, "spec", "replicas")).isEqualTo(1);
          });
    }
  }

  @Nested
  @DisplayName("When the chart is installed with rbac.rolloutPolicy=false")
  class WithoutPolicy {

    @Test
    @DisplayName(
        "When its ServiceAccount rewrites a Rollout's pod template, then RBAC alone lets it (the"
            + " residual right docs/security.md names)")
    void rbacAloneAllowsTemplateChanges(
        KubeApiServer server, KubernetesClient admin, TestNamespace namespace) throws Exception {
      String ns = namespace.name();
      createRollout(admin, ns, "app");
      asChartServiceAccount(
          server,
          admin,
          ns,
          Map.of("rbac.rolloutPolicy", "false"),
          sa -> {
            rollout(sa, ns, "app").patch(MERGE, TEMPLATE_PATCH);
            assertThat(
                    field(
                        rollout(admin, ns, "app").get(),
                        "spec",
                        "template",
                        "spec",
                        "serviceAccountName"))
                .isEqualTo("admin");
          });
    }
  }
}
