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
 * make e2e's scenarios (a), (b), (d), (e) and (f) on k3s (see {@link K3sCluster}): the official
 * Argo Rollouts v1.9.1 controller in the cluster drives a Rollout whose Pods really run, through
 * the connector it downloaded from plugin-server, and plugin-server's real engine rewrites the
 * routes.
 *
 * <p>Needs a Docker engine; without one every test is skipped with a message saying so. Not run by
 * {@code mvn verify} (the name matches neither surefire's nor failsafe's patterns): {@code make
 * e2e-k3s} runs it (profile {@code e2e-k3s} of the e2e module).
 *
 * <p>Not here: make e2e's scenario (c) (the analyzer aborts a canary whose error rate is bad). It
 * needs what this variant does not start: Prometheus scraping the app's request metrics, an app
 * that serves real traffic with a controllable error rate (make e2e's sample app; here the Pods run
 * the pause image), and plugin-server's analyzer, which this in-JVM server is not wired with (see
 * {@link K3sCluster}). {@code make e2e} runs it.
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
      app.followWeights(List.of(1, 10, 50, 100));
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

  @Test
  @DisplayName(
      "(b) When a setHeaderRoute step runs, then a header rule appears on the route with"
          + " useHeaderRoutes only, and the next setHeaderRoute without matches removes it; weights"
          + " stay")
  void headerRouteAddedThenRemoved() {
    App app =
        new App(
            "k3s-scenario-b",
            """
            [{"setWeight": 10},
             {"setHeaderRoute": {"name": "canary-header",
                                 "match": [{"headerName": "X-Canary",
                                            "headerValue": {"exact": "yes"}}]}},
             {"pause": {}},
             {"setHeaderRoute": {"name": "canary-header"}},
             {"pause": {}},
             {"setWeight": 100}]
            """,
            App.PERCENT,
            true);
    try {
      app.release("v2");
      app.atPause(2);
      app.awaitWeights(10, Duration.ofSeconds(10));
      Weights web = app.weights("HTTPRoute", App.WEB);
      assertThat(web.headerRules())
          .as("header rules on %s after setHeaderRoute (%s)", App.WEB, web)
          .isEqualTo(1);
      assertThat(web.managed())
          .as("the managed-rule record on %s", App.WEB)
          .isNotIn("", "{}", "[]");
      assertThat(app.weights("HTTPRoute", App.MESH).headerRules())
          .as("%s has no useHeaderRoutes: header rules", App.MESH)
          .isZero();
      assertThat(app.weights("GRPCRoute", App.GRPC).headerRules())
          .as("%s has no useHeaderRoutes: header rules", App.GRPC)
          .isZero();
      app.note("header rule X-Canary: yes present on " + App.WEB + " only");

      app.promote(2);
      app.atPause(4);
      app.awaitRoutes(
          Duration.ofSeconds(10),
          "header rule removed, weights kept",
          w -> w.headerRules() == 0 && w.rules() == 1 && w.canary() == 10);
      app.note("header rule removed, canary still 10%");
      app.promote(4);
      app.assertPromoted();
    } finally {
      app.printTimeline();
    }
  }

  @Test
  @DisplayName(
      "(d) When plugin-server stops mid-canary, then the routes keep their weights while it is"
          + " down, and once a new one serves on the same ports the canary goes on to full"
          + " promotion")
  void pluginServerStoppedMidCanary() {
    App app =
        new App(
            "k3s-scenario-d",
            """
            [{"setWeight": 10}, {"pause": {}},
             {"setWeight": 50}, {"pause": {"duration": "2s"}},
             {"setWeight": 100}]
            """);
    try {
      app.release("v2");
      app.atPause(1);
      app.awaitWeights(10, Duration.ofSeconds(10));

      cluster.stopPluginServer();
      app.note("plugin-server stopped");
      app.promoteOnly(1);
      app.awaitRollout(STEP, "resumed", s -> s.path("pauseConditions").isEmpty());
      // Argo is at step 2 and tries setWeight 50 through the connector, which cannot reach
      // plugin-server; nothing else writes the routes.
      app.awaitWeights(10, Duration.ofSeconds(1));
      app.note("while plugin-server is down: weights still canary=10%");

      Duration took = cluster.restartPluginServer();
      app.note("plugin-server serving again after " + took.toMillis() + " ms");
      app.atStep(3, STEP.multipliedBy(2));
      app.awaitWeights(50, Duration.ofSeconds(10));
      app.note("canary continued: canary=50% after the restart");
      app.assertPromoted();
    } finally {
      // The other scenarios share the cluster's plugin-server.
      if (!cluster.pluginServerRunning()) {
        cluster.restartPluginServer();
      }
      app.printTimeline();
    }
  }

  @Test
  @DisplayName(
      "(f) When maxTrafficWeight is 1000, then every route follows 1 -> 10 -> 500 of 1000 (a first"
          + " step of 0.1%) and ends 100% stable")
  void perMilleWeights() {
    App app =
        new App(
            "k3s-scenario-f",
            """
            [{"setWeight": 1}, {"pause": {"duration": "2s"}},
             {"setWeight": 10}, {"pause": {"duration": "2s"}},
             {"setWeight": 500}, {"pause": {"duration": "2s"}},
             {"setWeight": 1000}]
            """,
            1000,
            false);
    try {
      app.release("v2");
      app.followWeights(List.of(1, 10, 500));
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

    /** Argo's default maxTrafficWeight: weights are percentages. */
    static final int PERCENT = 100;

    final String ns;

    /** The Rollout's maxTrafficWeight: what stable and canary weights sum to on every route. */
    final int total;

    private final KubernetesClient client = cluster.client();
    private final long created = System.nanoTime();
    private final List<String> timeline = new ArrayList<>();

    App(String ns, String steps) {
      this(ns, steps, PERCENT, false);
    }

    /**
     * With {@code maxTrafficWeight} and, when {@code headerRoutes}, the managed route {@code
     * canary-header} and useHeaderRoutes on {@link #WEB} (as make e2e's sample app).
     */
    App(String ns, String steps, int maxTrafficWeight, boolean headerRoutes) {
      this.ns = ns;
      this.total = maxTrafficWeight;
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
      create(rolloutJson(ns, steps, maxTrafficWeight, headerRoutes));
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
    static String rolloutJson(String ns, String steps, int maxTrafficWeight, boolean headerRoutes) {
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
               "trafficRouting": {"maxTrafficWeight": %d,%s
                 "plugins": {"%s": {
                   "httpRoutes": [{"name": "%s", "useHeaderRoutes": %b}, {"name": "%s"}],
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
              maxTrafficWeight,
              headerRoutes ? " \"managedRoutes\": [{\"name\": \"canary-header\"}]," : "",
              K3sCluster.PLUGIN_NAME,
              WEB,
              headerRoutes,
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
      atStep(index, STEP);
    }

    /**
     * For steps that alternate setWeight and pause: at the pause after each of {@code weights}
     * (steps 1, 3, 5, ...), every route carries exactly that weight.
     */
    void followWeights(List<Integer> weights) {
      int step = 1;
      for (int weight : weights) {
        atStep(step);
        awaitWeights(weight, Duration.ofSeconds(10));
        note("every route at canary=" + (total == PERCENT ? weight + "%" : weight + "/" + total));
        step += 2;
      }
    }

    void atStep(int index, Duration timeout) {
      awaitRollout(timeout, "at step " + index, s -> s.path("currentStepIndex").asInt(-1) == index);
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

    /**
     * Waits until all three routes send {@code canary} (of {@link #total}) to the canary and the
     * rest to stable.
     */
    void awaitWeights(int canary, Duration timeout) {
      awaitRoutes(
          timeout,
          "stable=%d canary=%d".formatted(total - canary, canary),
          w -> w.canary() == canary && w.stable() == total - canary);
    }

    void awaitRoutes(Duration timeout, String what, Predicate<Weights> condition) {
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
     * rules), with the number of rules, of rules matching on a header, and Weighbridge's
     * managed-rule record.
     */
    Weights weights(String kind, String name) {
      GenericKubernetesResource route =
          client
              .genericKubernetesResources(EngineFixtures.GATEWAY_API, kind)
              .inNamespace(ns)
              .withName(name)
              .get();
      JsonNode json = JSON.valueToTree(route);
      Map<String, Long> backends = new HashMap<>();
      JsonNode rules = json.path("spec").path("rules");
      int headerRules = 0;
      for (JsonNode rule : rules) {
        boolean header = false;
        for (JsonNode match : rule.path("matches")) {
          header |= !match.path("headers").isEmpty();
        }
        if (header) {
          headerRules++;
          continue;
        }
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
      return new Weights(backends, rules.size(), headerRules, managed);
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
              w.stable() == total
                  && w.canary() == 0
                  && w.headerRules() == 0
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

  /**
   * One route's weights: backend Service -> weight over the weighted rules (those without a header
   * match; {@code headerRules} counts those), as make e2e's cluster.Weights.
   */
  private record Weights(Map<String, Long> backends, int rules, int headerRules, String managed) {

    long stable() {
      return backends.getOrDefault(STABLE, 0L);
    }

    long canary() {
      return backends.getOrDefault(CANARY, 0L);
    }
  }
}
