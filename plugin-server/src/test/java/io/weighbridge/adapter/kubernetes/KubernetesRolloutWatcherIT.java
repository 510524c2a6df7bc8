package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.domain.Rollout;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The analyzer's Rollout informer against a real kube-apiserver holding one Rollout nested deeper
 * than Jackson reads (issue 11): that Rollout is skipped and named, every other one is followed.
 */
@WithKubeApiServer
class KubernetesRolloutWatcherIT {

  private static final int DEPTH = 600;

  private static String rollout(String name, String pluginConfig) {
    return """
        {"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"%s"},
         "spec":{"replicas":1,
          "selector":{"matchLabels":{"app":"%s"}},
          "template":{"metadata":{"labels":{"app":"%s"}},
                      "spec":{"containers":[{"name":"web","image":"example/web:1"}]}},
          "strategy":{"canary":{
            "canaryService":"web-canary","stableService":"web-stable",
            "trafficRouting":{"plugins":{"weighbridge/gateway-api":%s}},
            "steps":[{"setWeight":5},{"pause":{}}]}}}}
        """
        .formatted(name, name, name, pluginConfig);
  }

  /** A plugin configuration nested {@code depth} objects deep (the CRD preserves plugins). */
  private static String nested(int depth) {
    return "{\"x\":".repeat(depth) + "1" + "}".repeat(depth);
  }

  /**
   * Sends JSON as it is, answer unread: fabric8's own reader refuses the deep Rollout (in the
   * request and in the answer).
   */
  private static int send(KubernetesClient admin, String method, String path, String body) {
    String master = admin.getMasterUrl().toString().replaceAll("/$", "");
    HttpResponse<String> answer =
        admin
            .getHttpClient()
            .sendAsync(
                admin
                    .getHttpClient()
                    .newHttpRequestBuilder()
                    .uri(master + "/apis/argoproj.io/v1alpha1/namespaces/" + path)
                    .method(
                        method,
                        method.equals("PATCH")
                            ? "application/merge-patch+json"
                            : "application/json",
                        body)
                    .build(),
                String.class)
            .join();
    return answer.code();
  }

  /** A watcher that records the names of the Rollouts of {@code ns} it hands on. */
  private static KubernetesRolloutWatcher watcher(
      KubernetesClient admin, String ns, Set<String> seen, SimpleMeterRegistry registry) {
    return new KubernetesRolloutWatcher(
        admin,
        r -> {
          if (r.namespace().equals(ns)) {
            seen.add(r.name());
          }
        },
        (n, name) -> {},
        registry);
  }

  private static void create(KubernetesClient admin, String ns, String json) {
    assertThat(send(admin, "POST", ns + "/rollouts", json)).isEqualTo(201);
  }

  @Nested
  @DisplayName("When one Rollout of the cluster is nested 600 levels deep")
  class DeeplyNested {

    @Test
    @DisplayName(
        "When the informer lists, then that Rollout is skipped and named, the others are followed,"
            + " and a later change of it does not blind the informer")
    void oneBadObjectCostsOnlyItself(KubernetesClient admin, TestNamespace namespace) {
      String ns = namespace.name();
      create(admin, ns, rollout("calm", "{\"httpRoute\":\"web\"}"));
      create(admin, ns, rollout("deep", nested(DEPTH)));
      Set<String> seen = ConcurrentHashMap.newKeySet();
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      try (KubernetesRolloutWatcher watcher = watcher(admin, ns, seen, registry)) {
        watcher.start();

        await().atMost(Duration.ofSeconds(60)).until(() -> seen.contains("calm"));
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () ->
                    assertThat(watcher.health().problem())
                        .hasValueSatisfying(
                            p ->
                                assertThat(p)
                                    .contains("unreadable Rollout(s) skipped")
                                    .contains(ns + "/deep")));
        assertThat(seen).doesNotContain("deep");
        assertThat(registry.get("weighbridge.rollout.informer.skipped").gauge().value())
            .isGreaterThanOrEqualTo(1);
        assertThat(registry.get("weighbridge.rollout.informer.up").gauge().value()).isEqualTo(1);

        // A change of the bad Rollout reaches the watch, which cannot read it: the informer lists
        // again, skips it again, and keeps following the others.
        assertThat(
                send(
                    admin,
                    "PATCH",
                    ns + "/rollouts/deep",
                    "{\"metadata\":{\"annotations\":{\"touched\":\"yes\"}}}"))
            .isEqualTo(200);
        create(admin, ns, rollout("later", "{\"httpRoute\":\"web\"}"));

        await().atMost(Duration.ofSeconds(60)).until(() -> seen.contains("later"));
        assertThat(seen).doesNotContain("deep");
        await()
            .atMost(Duration.ofSeconds(60))
            .untilAsserted(
                () -> {
                  assertThat(watcher.health().lastFailure()).isNull();
                  assertThat(watcher.health().skipped())
                      .anySatisfy(s -> assertThat(s.name()).isEqualTo("deep"));
                });
      }
    }
  }

  @Test
  @DisplayName(
      "When every Rollout is readable, then the informer reports no problem and hands them on"
          + " without managedFields")
  void healthyWhenAllReadable(KubernetesClient admin, TestNamespace namespace) {
    String ns = namespace.name();
    create(admin, ns, rollout("fine", "{\"httpRoute\":\"web\"}"));
    Map<String, Rollout> seen = new ConcurrentHashMap<>();
    try (KubernetesRolloutWatcher watcher =
        new KubernetesRolloutWatcher(
            admin,
            r -> {
              if (r.namespace().equals(ns)) {
                seen.put(r.name(), r);
              }
            },
            (n, name) -> {},
            new SimpleMeterRegistry())) {
      watcher.start();

      await().atMost(Duration.ofSeconds(60)).until(() -> seen.containsKey("fine"));
      assertThat(watcher.health().synced()).isTrue();
      assertThat(watcher.health().lastFailure()).isNull();
      JsonNode metadata = seen.get("fine").json().path("metadata");
      assertThat(metadata.path("name").asText()).isEqualTo("fine");
      assertThat(metadata.has("managedFields")).isFalse();
    }
  }
}
