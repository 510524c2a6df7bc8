package io.weighbridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * make e2e's scenarios (a) and (e) on k3s (see {@link K3sCluster}): the official Argo Rollouts
 * v1.9.1 controller in the cluster drives a Rollout whose Pods really run, through the connector it
 * downloaded from plugin-server, and plugin-server's real engine rewrites the routes.
 *
 * <p>Needs a Docker engine; without one every test is skipped with a message saying so. Not run by
 * {@code mvn verify} (the name matches neither surefire's nor failsafe's patterns): {@code make
 * e2e-k3s} runs it (profile {@code e2e-k3s} of the e2e module).
 */
@DisplayName(
    "k3s end-to-end: the Argo Rollouts controller image drives canaries through Weighbridge")
class RolloutsK3sE2E {

  private static final Logger LOG = LoggerFactory.getLogger(RolloutsK3sE2E.class);

  /** A tiny real image: its Pods become Running and Ready in k3s (no probes). */
  private static final String APP_IMAGE =
      System.getProperty("weighbridge.app.image", "registry.k8s.io/pause:3.10");

  private static final String ROLLOUTS = "argoproj.io/v1alpha1";
  private static final String STABLE = EngineFixtures.STABLE;
  private static final String CANARY = EngineFixtures.CANARY;
  private static final String ROLLOUT = EngineFixtures.APEX;

  /** One Argo step: a reconcile, a plugin call, the route write and its acceptance, with slack. */
  private static final Duration STEP = Duration.ofMinutes(1);

  private static final ObjectMapper JSON = new ObjectMapper();

  private static final String NO_DOCKER =
      "No Docker engine found (Testcontainers looked at DOCKER_HOST, the Docker socket and"
          + " ~/.testcontainers.properties): the k3s end-to-end scenarios are SKIPPED, not run."
          + " `make e2e` runs the same scenarios without Docker.";

  private static K3sCluster cluster;

  @BeforeAll
  static void startCluster() {
    boolean docker = K3sCluster.dockerAvailable();
    if (!docker) {
      // Also in the log: the build summary shows skipped tests without their reason.
      LOG.warn(NO_DOCKER);
    }
    Assumptions.assumeTrue(docker, NO_DOCKER);
    cluster = K3sCluster.start(connectorDist());
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** $WEIGHBRIDGE_CONNECTOR_DIST, else connector/dist of the checkout (make connector-dist). */
  private static Path connectorDist() {
    String env = System.getenv("WEIGHBRIDGE_CONNECTOR_DIST");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !dir.resolve("connector").toFile().isDirectory()) {
      dir = dir.getParent();
    }
    return dir == null ? Path.of("connector", "dist") : dir.resolve("connector").resolve("dist");
  }

  @Test
  @DisplayName(
      "(a) When a Rollout steps 1 -> 10 -> 50 -> 100 %, then a Gateway-parented HTTPRoute and"
          + " Service-parented HTTPRoute and GRPCRoute follow every step and end 100% stable")
  void canaryOneToHundredPercent() {
    App app =
        new App(
            "k3s-scenario-a",
            """
            [{"setWeight": 1}, {"pause": {"duration": "2s"}},
             {"setWeight": 10}, {"pause": {"duration": "2s"}},
             {"setWeight": 50}, {"pause": {"duration": "2s"}},
             {"setWeight": 100}, {"pause": {"duration": "2s"}}]
            """);
    try {
      app.release("v2");
      int step = 1;
      for (int weight : List.of(1, 10, 50, 100)) {
        app.atStep(step);
        app.awaitWeights(weight, Duration.ofSeconds(10));
        app.note("every route at canary=" + weight + "%");
        step += 2;
      }
      app.assertPromoted();
    } finally {
      app.printTimeline();
    }
  }

  @Test
  @DisplayName(
      "(e) When someone else edits a route's weights mid-canary, then Weighbridge restores Argo's"
          + " weight and the canary goes on to full promotion")
  void foreignWeightEditRestored() {
    App app =
        new App("k3s-scenario-e", "[{\"setWeight\": 10}, {\"pause\": {}}, {\"setWeight\": 100}]");
    try {
      app.release("v2");
      app.atPause(1);
      app.awaitWeights(10, Duration.ofSeconds(10));
      cluster
          .client()
          .genericKubernetesResources(EngineFixtures.GATEWAY_API, "HTTPRoute")
          .inNamespace(app.ns)
          .withName(App.WEB)
          .patch(
              new PatchContext.Builder()
                  .withPatchType(PatchType.JSON)
                  .withFieldManager("someone-else")
                  .build(),
              """
              [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 50},
               {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 50}]
              """);
      long edited = System.nanoTime();
      app.note("someone else set " + App.WEB + " to stable=50 canary=50");
      app.awaitWeights(10, Duration.ofSeconds(30));
      app.note(
          "restored to canary=10% "
              + (System.nanoTime() - edited) / 1_000_000
              + " ms after the edit");
      app.promote(1);
      app.assertPromoted();
    } finally {
      app.printTimeline();
    }
  }

  /**
   * One scenario's application in its own namespace: Services checkout (the mesh front),
   * checkout-stable and checkout-canary, the Gateway, the north/south HTTPRoute checkout-web
   * (Gateway parent), the east/west HTTPRoute checkout-mesh and GRPCRoute checkout-grpc (Service
   * parent, Linkerd's GAMMA), and the Rollout checkout over all three.
   */
  private static final class App {

    static final String WEB = "checkout-web";
    static final String MESH = "checkout-mesh";
    static final String GRPC = "checkout-grpc";

    final String ns;
    private final KubernetesClient client = cluster.client();
    private final long created = System.nanoTime();
    private final List<String> timeline = new ArrayList<>();

    App(String ns, String steps) {
      this.ns = ns;
      EngineFixtures.namespaceWithServices(client, ns);
      EngineFixtures.httpRoute(client, ns, WEB);
      create(
          """
          {"apiVersion": "%s", "kind": "HTTPRoute",
           "metadata": {"name": "%s", "namespace": "%s"},
           "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "%s", "port": 80}],
                    "rules": [{"backendRefs": [{"name": "%s", "port": 80, "weight": 100},
                                               {"name": "%s", "port": 80, "weight": 0}]}]}}
          """
              .formatted(EngineFixtures.GATEWAY_API, MESH, ns, ROLLOUT, STABLE, CANARY));
      EngineFixtures.grpcRoute(client, ns, GRPC);
      create(rolloutJson(ns, steps));
      // The first revision is promoted at once (no steps for a first deploy); its Pods must really
      // run: the image is pulled by the k3s node.
      awaitRollout(
          Duration.ofMinutes(3),
          "Healthy with revision 1",
          s ->
              "Healthy".equals(s.path("phase").asText())
                  && !s.path("stableRS").asText().isEmpty()
                  && s.path("stableRS").asText().equals(s.path("currentPodHash").asText()));
      note("revision 1 Healthy");
    }

    /** The Rollout over the three routes, with {@code steps} (a JSON array of canary steps). */
    static String rolloutJson(String ns, String steps) {
      return """
          {"apiVersion": "%s", "kind": "Rollout",
           "metadata": {"name": "%s", "namespace": "%s"},
           "spec": {
             "replicas": 2,
             "revisionHistoryLimit": 2,
             "selector": {"matchLabels": {"app.kubernetes.io/name": "%s"}},
             "template": {
               "metadata": {"labels": {"app.kubernetes.io/name": "%s"}},
               "spec": {"automountServiceAccountToken": false,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [%s]}},
             "strategy": {"canary": {
               "canaryService": "%s", "stableService": "%s",
               "trafficRouting": {"plugins": {"%s": {
                 "httpRoutes": [{"name": "%s"}, {"name": "%s"}],
                 "grpcRoutes": [{"name": "%s"}]}}},
               "steps": %s}}}}
          """
          .formatted(
              ROLLOUTS,
              ROLLOUT,
              ns,
              ROLLOUT,
              ROLLOUT,
              container("v1"),
              CANARY,
              STABLE,
              K3sCluster.PLUGIN_NAME,
              WEB,
              MESH,
              GRPC,
              steps);
    }

    /** The app container; {@code version} in its environment makes a new pod template. */
    private static String container(String version) {
      return """
          {"name": "checkout", "image": "%s", "env": [{"name": "VERSION", "value": "%s"}],
           "ports": [{"name": "http", "containerPort": 8080}]}
          """
          .formatted(APP_IMAGE, version);
    }

    private void create(String json) {
      EngineFixtures.create(client, json);
    }

    private Resource<GenericKubernetesResource> rolloutResource() {
      return client
          .genericKubernetesResources(ROLLOUTS, "Rollout")
          .inNamespace(ns)
          .withName(ROLLOUT);
    }

    private GenericKubernetesResource rollout() {
      return rolloutResource().get();
    }

    private void mergePatch(String json) {
      rolloutResource().patch(PatchContext.of(PatchType.JSON_MERGE), json);
    }

    private JsonNode status() {
      GenericKubernetesResource r = rollout();
      return r == null ? JSON.createObjectNode() : JSON.valueToTree(r).path("status");
    }

    void note(String what) {
      String line = "%7.2f s  %s".formatted((System.nanoTime() - created) / 1e9, what);
      timeline.add(line);
      LOG.info("{}: {}", ns, line);
    }

    void printTimeline() {
      System.out.println(
          "timeline of "
              + ns
              + " (seconds since the app was created):\n  "
              + String.join("\n  ", timeline));
    }

    /** Changes the pod template (the VERSION variable), which starts a canary. */
    void release(String version) {
      mergePatch(
          "{\"spec\": {\"template\": {\"spec\": {\"containers\": [%s]}}}}"
              .formatted(container(version)));
      note("VERSION -> " + version + " (canary starts)");
    }

    JsonNode awaitRollout(Duration timeout, String what, Predicate<JsonNode> condition) {
      JsonNode[] last = {JSON.createObjectNode()};
      try {
        Awaitility.await(ns + "/" + ROLLOUT + " " + what)
            .atMost(timeout)
            .pollInterval(Duration.ofMillis(100))
            // A transient API error is one failed poll, not a failed scenario (as in make e2e).
            .ignoreExceptionsInstanceOf(KubernetesClientException.class)
            .until(
                () -> {
                  last[0] = status();
                  return condition.test(last[0]);
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(
            e.getMessage()
                + "\nRollout status: "
                + last[0].toPrettyString()
                + "\nArgo Rollouts controller:\n"
                + cluster.argoDiagnostics(),
            e);
      }
      return last[0];
    }

    void atStep(int index) {
      awaitRollout(STEP, "at step " + index, s -> s.path("currentStepIndex").asInt(-1) == index);
    }

    void atPause(int index) {
      awaitRollout(
          STEP,
          "paused at step " + index,
          s ->
              s.path("currentStepIndex").asInt(-1) == index
                  && !s.path("pauseConditions").isEmpty());
    }

    /**
     * Resumes the indefinite pause at step {@code from} as {@code kubectl argo rollouts promote}
     * does (clears status.pauseConditions), once Argo has written its Paused condition; if Argo has
     * not moved on after 5 s, touches an annotation (an update event refreshes Argo's cache, which
     * a promote landing between Argo's two pause patches is lost in) and promotes again, as make
     * e2e's harness does.
     */
    void promote(int from) {
      promoteOnly(from);
      long[] nudgeAt = {System.nanoTime() + Duration.ofSeconds(5).toNanos()};
      int[] attempt = {2};
      awaitRollout(
          STEP,
          "past step " + from + " after promote",
          s -> {
            if (s.path("currentStepIndex").asInt(-1) > from) {
              return true;
            }
            if (System.nanoTime() > nudgeAt[0]) {
              mergePatch(
                  "{\"metadata\": {\"annotations\": {\"e2e.weighbridge.io/nudge\": \"%d\"}}}"
                      .formatted(attempt[0]));
              note(
                  "still at step "
                      + from
                      + " 5 s after promote: annotation touched, promote again");
              clearPause();
              attempt[0]++;
              nudgeAt[0] = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            }
            return false;
          });
    }

    private void promoteOnly(int from) {
      awaitRollout(
          STEP,
          "paused at step " + from + " with the Paused condition written",
          s -> {
            if (s.path("currentStepIndex").asInt(-1) != from) {
              return false;
            }
            for (JsonNode c : s.path("conditions")) {
              if ("Paused".equals(c.path("type").asText())
                  && "True".equals(c.path("status").asText())) {
                return true;
              }
            }
            return false;
          });
      clearPause();
    }

    private void clearPause() {
      rolloutResource()
          .subresource("status")
          .patch(
              PatchContext.of(PatchType.JSON_MERGE), "{\"status\": {\"pauseConditions\": null}}");
      note("promote (pause conditions cleared)");
    }

    /** Waits until all three routes send {@code canary}% to the canary and the rest to stable. */
    void awaitWeights(int canary, Duration timeout) {
      awaitRoutes(
          timeout,
          "stable=%d canary=%d".formatted(100 - canary, canary),
          w ->
              w.backends().getOrDefault(CANARY, 0L) == canary
                  && w.backends().getOrDefault(STABLE, 0L) == 100 - canary);
    }

    private void awaitRoutes(Duration timeout, String what, Predicate<Weights> condition) {
      Map<String, Weights> last = new HashMap<>();
      try {
        Awaitility.await("every route " + what)
            .atMost(timeout)
            .pollInterval(Duration.ofMillis(100))
            // A transient API error is one failed poll, not a failed scenario (as in make e2e).
            .ignoreExceptionsInstanceOf(KubernetesClientException.class)
            .until(
                () -> {
                  boolean all = true;
                  for (String[] route :
                      List.of(
                          new String[] {"HTTPRoute", WEB},
                          new String[] {"HTTPRoute", MESH},
                          new String[] {"GRPCRoute", GRPC})) {
                    Weights w = weights(route[0], route[1]);
                    last.put(route[0] + " " + route[1], w);
                    all &= condition.test(w);
                  }
                  return all;
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(e.getMessage() + "\nroutes: " + last, e);
      }
    }

    /**
     * What one route sends where, summed over the rules naming the stable Service (the weighted
     * rules), with the number of rules and Weighbridge's managed-rule record.
     */
    private Weights weights(String kind, String name) {
      GenericKubernetesResource route =
          client
              .genericKubernetesResources(EngineFixtures.GATEWAY_API, kind)
              .inNamespace(ns)
              .withName(name)
              .get();
      JsonNode json = JSON.valueToTree(route);
      Map<String, Long> backends = new HashMap<>();
      JsonNode rules = json.path("spec").path("rules");
      for (JsonNode rule : rules) {
        boolean weighted = false;
        for (JsonNode ref : rule.path("backendRefs")) {
          weighted |= STABLE.equals(ref.path("name").asText());
        }
        if (weighted) {
          for (JsonNode ref : rule.path("backendRefs")) {
            backends.merge(ref.path("name").asText(), ref.path("weight").asLong(1), Long::sum);
          }
        }
      }
      String managed =
          json.path("metadata").path("annotations").path("weighbridge.io/managed").asText("");
      return new Weights(backends, rules.size(), managed);
    }

    /**
     * The end of a full promotion: Healthy at the last step, the new revision stable, every route
     * 100% to stable in its one rule with no managed-rule record, and the stable Service selecting
     * the new stable ReplicaSet's Pods.
     */
    void assertPromoted() {
      JsonNode status =
          awaitRollout(
              Duration.ofMinutes(2),
              "fully promoted (Healthy, stableRS = currentPodHash, at the last step)",
              s ->
                  "Healthy".equals(s.path("phase").asText())
                      && s.path("stableRS").asText().equals(s.path("currentPodHash").asText())
                      && s.path("currentStepIndex").asInt(-1)
                          == JSON.valueToTree(rollout())
                              .path("spec")
                              .path("strategy")
                              .path("canary")
                              .path("steps")
                              .size());
      String stableRs = status.path("stableRS").asText();
      note("fully promoted: stableRS=" + stableRs);
      awaitRoutes(
          Duration.ofSeconds(30),
          "100% stable in one rule, no managed rules",
          w ->
              w.backends().getOrDefault(STABLE, 0L) == 100
                  && w.backends().getOrDefault(CANARY, 0L) == 0
                  && w.rules() == 1
                  && List.of("", "{}", "[]").contains(w.managed()));
      note("every route 100% stable, no managed rules");
      assertThat(client.services().inNamespace(ns).withName(STABLE).get().getSpec().getSelector())
          .as("%s selects the new stable ReplicaSet's Pods", STABLE)
          .containsEntry("rollouts-pod-template-hash", stableRs);
      assertThat(
              client
                  .pods()
                  .inNamespace(ns)
                  .withLabel("rollouts-pod-template-hash", stableRs)
                  .list()
                  .getItems())
          .as("the new stable revision's Pods really run and are Ready")
          .isNotEmpty()
          .allSatisfy(
              pod ->
                  assertThat(pod.getStatus().getConditions())
                      .anySatisfy(
                          c -> {
                            assertThat(c.getType()).isEqualTo("Ready");
                            assertThat(c.getStatus()).isEqualTo("True");
                          }));
    }
  }

  /** One route's weights: backend Service -> weight over the weighted rules. */
  private record Weights(Map<String, Long> backends, int rules, String managed) {}
}
