package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.NS;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.context;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.WeightDestination;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class WeightPlannerTest {

  private static final String LABEL_PTR =
      "/metadata/labels/rollouts.argoproj.io~1gatewayapi-canary";
  private static final String LEDGER_PTR = "/metadata/annotations/weighbridge.io~1managed";

  static RoutingConfig config(int maxTrafficWeight) {
    return RoutingConfigParser.parse(
        rollout().maxTrafficWeight(maxTrafficWeight).plugin("{'httpRoute': 'shop'}").build(),
        PLUGIN);
  }

  static Desired desired(int weight, WeightDestination... destinations) {
    return WeightPlanner.desired(weight, List.of(destinations), config(100));
  }

  static RouteWriter.Step weightStep(RouteContext ctx, Desired d) {
    return (b, ledger) -> WeightPlanner.plan(b, ledger, ctx, d, (svc, ref) -> 8080);
  }

  static Planning.Result setWeight(JsonNode route, Desired d) {
    ObservedRoute observed = observe(route);
    return Planning.run(route, context(observed.id()), weightStep(context(observed.id()), d));
  }

  static ObservedRoute observe(JsonNode route) {
    FakeRouteClient fake = new FakeRouteClient();
    return fake.get(fake.put(route)).orElseThrow();
  }

  @Nested
  @DisplayName("the weight maths")
  class Maths {

    @Test
    void stableGetsTheRest() {
      assertThat(desired(30)).isEqualTo(new Desired(30, 70, List.of()));
    }

    @Test
    @DisplayName("When maxTrafficWeight is 1000, then weights are in thousandths")
    void maxTrafficWeight1000() {
      Desired d = WeightPlanner.desired(250, List.of(), config(1000));
      assertThat(d.canary()).isEqualTo(250);
      assertThat(d.stable()).isEqualTo(750);
    }

    @Test
    @DisplayName("When experiments take weight, then stable = max - canary - experiments")
    void experiments() {
      Desired d =
          desired(
              20,
              new WeightDestination("exp-a", "h1", 10),
              new WeightDestination("exp-b", "h2", 5));
      assertThat(d.stable()).isEqualTo(65);
      assertThat(d.experiments())
          .extracting(Desired.ExperimentWeight::weight)
          .containsExactly(10, 5);
    }

    @Test
    void overTheTop() {
      assertThatThrownBy(() -> desired(90, new WeightDestination("exp", "h", 20)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("canary weight 90 plus experiment weights 20 exceed")
          .hasMessageContaining("the stable Service would get -10");
    }

    @Test
    void outOfRange() {
      assertThatThrownBy(() -> desired(101))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("outside 0..100");
      assertThatThrownBy(() -> desired(-1)).isInstanceOf(InvalidConfigException.class);
    }

    @Test
    void badDestinations() {
      assertThatThrownBy(() -> desired(10, new WeightDestination("", "h", 1)))
          .hasMessageContaining("has no Service name");
      assertThatThrownBy(() -> desired(10, new WeightDestination(CANARY, "h", 1)))
          .hasMessageContaining("is the Rollout's canary or stable Service");
      assertThatThrownBy(
              () ->
                  desired(
                      10, new WeightDestination("x", "h", 1), new WeightDestination("x", "h", 1)))
          .hasMessageContaining("listed twice");
      assertThatThrownBy(() -> desired(10, new WeightDestination("x", "h", -1)))
          .hasMessageContaining("negative weight");
    }
  }

  @Nested
  @DisplayName("the examples users run today")
  class Examples {

    @Test
    @DisplayName(
        "When the Traefik example (weights unset) gets 30, then weights are added, the label set")
    void traefikExample() {
      ObjectNode route = Fixtures.exampleRoute("traefik/httproute.yml");

      Planning.Result r = setWeight(route, desired(30));

      assertThat(weights(r.after(), 0)).containsExactly(entry(STABLE, 70), entry(CANARY, 30));
      assertThat(r.summary())
          .containsExactly(
              "test /spec/rules/0/backendRefs/1/name",
              "add /spec/rules/0/backendRefs/1/weight",
              "test /spec/rules/0/backendRefs/0/name",
              "add /spec/rules/0/backendRefs/0/weight",
              "add /metadata/annotations",
              "add " + LEDGER_PTR,
              "add /metadata/labels",
              "add " + LABEL_PTR);
      assertThat(
              r.after()
                  .path("metadata")
                  .path("labels")
                  .path("rollouts.argoproj.io/gatewayapi-canary")
                  .asText())
          .isEqualTo("in-progress");
      assertThat(Fixtures.json(RouteJson.annotation(r.after(), Ledger.ANNOTATION)))
          .isEqualTo(
              Fixtures.json(
                  """
                  {'version': 1, 'rollouts': {'default/rollouts-demo': {'uid': 'uid-rollouts-demo',
                    'inProgress': true,
                    'label': {'key': 'rollouts.argoproj.io/gatewayapi-canary',
                              'value': 'in-progress'},
                    'weights': {'canary': 30, 'stable': 70}}}}
                  """));
    }

    @Test
    @DisplayName(
        "When the Linkerd example (v1beta1, group core, Service parent) gets 40, then 40/60")
    void linkerdExample() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      assertThat(route.path("apiVersion").asText()).endsWith("v1beta1");

      Planning.Result r = setWeight(route, desired(40));

      assertThat(weights(r.after(), 0)).containsExactly(entry(STABLE, 60), entry(CANARY, 40));
    }

    @Test
    @DisplayName("When GRPCRoute v1alpha2, TCPRoute and TLSRoute get 25, then each gets 25/75")
    void otherKinds() {
      for (ObjectNode route :
          List.of(Fixtures.grpcRoute(), Fixtures.tcpRoute(), Fixtures.tlsRoute())) {
        Planning.Result r = setWeight(route, desired(25));
        assertThat(weights(r.after(), 0))
            .as(route.path("kind").asText())
            .containsExactly(entry(STABLE, 75), entry(CANARY, 25));
      }
    }
  }

  @Nested
  @DisplayName("what is changed and what is not")
  class Scope {

    @Test
    @DisplayName("When the weights already match, then the patch is empty")
    void unchangedMeansNoOps() {
      ObjectNode route = Fixtures.richHttpRoute();
      Planning.Result first = setWeight(route, desired(10));

      Planning.Result second = setWeight(first.after(), desired(10));

      assertThat(second.ops()).isEmpty();
    }

    @Test
    @DisplayName("When weights change, then only replace ops on weights plus name tests")
    void minimalOps() {
      ObjectNode route = Fixtures.richHttpRoute();
      Planning.Result first = setWeight(route, desired(10));

      Planning.Result second = setWeight(first.after(), desired(20));

      assertThat(second.summary())
          .containsExactly(
              "test /spec/rules/0/backendRefs/1/name",
              "replace /spec/rules/0/backendRefs/1/weight",
              "test /spec/rules/0/backendRefs/0/name",
              "replace /spec/rules/0/backendRefs/0/weight",
              "test /spec/rules/3/backendRefs/1/name",
              "replace /spec/rules/3/backendRefs/1/weight",
              "test /spec/rules/3/backendRefs/0/name",
              "replace /spec/rules/3/backendRefs/0/weight",
              // the ledger records the weights, so that a restart can resume drift restoration
              "test " + LEDGER_PTR,
              "replace " + LEDGER_PTR);
      assertThat(second.ops().get(0).path("value").asText()).isEqualTo(CANARY);
    }

    @Test
    @DisplayName(
        "When a backendRef has the canary's name in another namespace or kind, then ignored")
    void identityNotName() {
      ObjectNode route =
          obj(
              """
              {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute',
               'metadata': {'name': 'r', 'namespace': 'default'},
               'spec': {'rules': [
                 {'backendRefs': [
                   {'name': 'argo-rollouts-stable-service', 'port': 80, 'weight': 1},
                   {'name': 'argo-rollouts-canary-service', 'port': 80, 'weight': 1}]},
                 {'backendRefs': [
                   {'name': 'argo-rollouts-stable-service', 'namespace': 'team-b', 'port': 80,
                    'weight': 5},
                   {'group': 'example.com', 'kind': 'Backend',
                    'name': 'argo-rollouts-canary-service', 'weight': 5}]}]}}
              """);

      Planning.Result r = setWeight(route, desired(50));

      assertThat(weights(r.after(), 0)).containsExactly(entry(STABLE, 50), entry(CANARY, 50));
      assertThat(r.after().path("spec").path("rules").get(1))
          .isEqualTo(route.path("spec").path("rules").get(1));
    }

    @Test
    @DisplayName("When only near misses exist, then the error explains them")
    void nearMisses() {
      ObjectNode route =
          obj(
              """
              {'kind': 'HTTPRoute', 'metadata': {'name': 'r', 'namespace': 'default'},
               'spec': {'rules': [{'backendRefs': [
                 {'name': 'argo-rollouts-stable-service', 'namespace': 'team-b', 'port': 80},
                 {'name': 'argo-rollouts-canary-service', 'namespace': 'team-b', 'port': 80}]}]}}
              """);

      assertThatThrownBy(() -> setWeight(route, desired(10)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining(
              "HTTPRoute default/r has no rule whose backendRefs include both the canary Service"
                  + " default/argo-rollouts-canary-service and the stable Service"
                  + " default/argo-rollouts-stable-service")
          .hasMessageContaining(
              "rule 0 backendRef 1 names argo-rollouts-canary-service but as group \"\" kind"
                  + " Service in namespace team-b")
          .hasMessageContaining("add both Services as backendRefs");
    }

    @Test
    void twoRefsToOneService() {
      ObjectNode route =
          obj(
              """
              {'kind': 'HTTPRoute', 'metadata': {'name': 'r', 'namespace': 'default'},
               'spec': {'rules': [{'backendRefs': [
                 {'name': 'argo-rollouts-stable-service', 'port': 80},
                 {'name': 'argo-rollouts-canary-service', 'port': 80},
                 {'name': 'argo-rollouts-canary-service', 'port': 8080}]}]}}
              """);

      assertThatThrownBy(() -> setWeight(route, desired(10)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining(
              "rule 0 has several backendRefs to Service default/argo-rollouts-canary-service");
    }

    @Test
    @DisplayName("When ruleNames names one rule, then only that rule changes")
    void ruleNames() {
      ObjectNode route = Fixtures.richHttpRoute();
      RouteId id = observe(route).id();

      Planning.Result r =
          Planning.run(
              route,
              context(id, List.of("api"), true, true),
              weightStep(context(id, List.of("api"), true, true), desired(30)));

      assertThat(weights(r.after(), 0)).containsExactly(entry(STABLE, 100), entry(CANARY, 0));
      assertThat(weights(r.after(), 3))
          .containsExactly(entry(STABLE, 70), entry(CANARY, 30), entry("legacy", 50));
    }

    @Test
    void ruleNamesErrors() {
      ObjectNode route = Fixtures.richHttpRoute();
      RouteId id = observe(route).id();
      RouteContext missing = context(id, List.of("web", "nope"), true, true);
      RouteContext lacking = context(id, List.of("other-team"), true, true);

      assertThatThrownBy(() -> Planning.run(route, missing, weightStep(missing, desired(5))))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("HTTPRoute default/shop has no rule named nope")
          .hasMessageContaining("its rule names are web, other-team, preview, api");
      assertThatThrownBy(() -> Planning.run(route, lacking, weightStep(lacking, desired(5))))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("rule 1 (\"other-team\"), named in")
          .hasMessageContaining("does not route to both the canary Service");
    }
  }

  @Nested
  @DisplayName("experiments (additionalDestinations)")
  class Experiments {

    private final WeightDestination expA = new WeightDestination("exp-a", "h1", 10);

    @Test
    @DisplayName("When an experiment is added, then it joins every split rule, owned in the ledger")
    void added() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");

      Planning.Result r = setWeight(route, desired(20, expA));

      assertThat(weights(r.after(), 0))
          .containsExactly(entry(STABLE, 70), entry(CANARY, 20), entry("exp-a", 10));
      JsonNode added = r.after().path("spec").path("rules").get(0).path("backendRefs").get(2);
      assertThat(added)
          .isEqualTo(
              obj(
                  "{'group': 'core', 'kind': 'Service', 'name': 'exp-a', 'port': 8080,"
                      + " 'weight': 10}"));
      assertThat(RouteJson.annotation(r.after(), Ledger.ANNOTATION))
          .contains("\"experiments\":[{\"namespace\":\"default\",\"name\":\"exp-a\"}]");
    }

    @Test
    @DisplayName("When the experiment ends, then exactly the backend we added is removed")
    void removed() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      Planning.Result during = setWeight(route, desired(20, expA));

      Planning.Result after = setWeight(during.after(), desired(20));

      assertThat(weights(after.after(), 0)).containsExactly(entry(STABLE, 80), entry(CANARY, 20));
      assertThat(RouteJson.annotation(after.after(), Ledger.ANNOTATION)).doesNotContain("exp-a");
    }

    @Test
    @DisplayName("When a user's backend names the experiment Service, then it is never removed")
    void userBackendKept() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      ArrayNode refs = (ArrayNode) route.path("spec").path("rules").get(0).path("backendRefs");
      refs.addObject().put("name", "exp-a").put("port", 80).put("weight", 3);

      Planning.Result during = setWeight(route, desired(20, expA));
      assertThat(weights(during.after(), 0))
          .containsExactly(entry(STABLE, 70), entry(CANARY, 20), entry("exp-a", 10));
      Planning.Result after = setWeight(during.after(), desired(20));

      assertThat(weights(after.after(), 0))
          .containsExactly(entry(STABLE, 80), entry(CANARY, 20), entry("exp-a", 10));
    }

    @Test
    @DisplayName(
        "When the route is in another namespace, then the experiment ref names the namespace")
    void crossNamespace() {
      ObjectNode route =
          obj(
              """
              {'kind': 'HTTPRoute', 'metadata': {'name': 'edge', 'namespace': 'gateways'},
               'spec': {'rules': [{'backendRefs': [
                 {'name': 'argo-rollouts-stable-service', 'namespace': 'default', 'port': 80},
                 {'name': 'argo-rollouts-canary-service', 'namespace': 'default', 'port': 80}]}]}}
              """);

      Planning.Result r = setWeight(route, desired(20, expA));

      assertThat(r.after().path("spec").path("rules").get(0).path("backendRefs").get(2))
          .isEqualTo(obj("{'name': 'exp-a', 'namespace': 'default', 'port': 8080, 'weight': 10}"));
    }

    @Test
    @DisplayName(
        "The experiment port is the stable port when the Service has it, else its only one")
    void ports() {
      ServiceRef svc = new ServiceRef(NS, "exp");
      JsonNode stableRef = obj("{'name': 's', 'port': 80}");
      assertThat(WeightPlanner.choosePort(svc, service(80, 9090), stableRef)).isEqualTo(80);
      assertThat(WeightPlanner.choosePort(svc, service(8080), stableRef)).isEqualTo(8080);
      assertThatThrownBy(() -> WeightPlanner.choosePort(svc, service(8080, 9090), stableRef))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("experiment Service default/exp has ports [8080, 9090]")
          .hasMessageContaining("give the experiment Service that port, or a single port");
    }

    private JsonNode service(int... ports) {
      ObjectNode svc = obj("{'spec': {'ports': []}}");
      for (int p : ports) {
        ((ArrayNode) svc.path("spec").path("ports")).addObject().put("port", p);
      }
      return svc;
    }
  }
}
