package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.exact;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.rules;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.Rollout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * One named test per bug of the incumbent plugin (argoproj-labs/rollouts-plugin-trafficrouter-
 * gatewayapi) that users hit, run through the whole engine on a fake cluster.
 */
class IncumbentRegressionTest {
  private RouterHarness h;
  private RouteId shop;
  private Rollout rollout;

  @BeforeEach
  void setUp() {
    h = new RouterHarness();
    shop = h.cluster.put(Fixtures.richHttpRoute());
    rollout =
        rollout()
            .managedRoutes("canary-header", "beta", "mirror-1")
            .plugin("{'httpRoute': 'shop'}")
            .build();
  }

  @AfterEach
  void tearDown() {
    h.close();
  }

  private ObjectNode route() {
    return h.cluster.object(shop);
  }

  @Test
  @DisplayName("#203: When a split rule has a third backend, then it keeps its weight")
  void otherBackendsInSharedRuleKeepTheirWeights() {
    h.router.setWeight(CALLER, rollout, 30, List.of());

    assertThat(weights(route(), 3))
        .containsExactly(entry(STABLE, 70), entry(CANARY, 30), entry("legacy", 50));
    assertThat(rules(route()).get(1)).isEqualTo(rules(Fixtures.richHttpRoute()).get(1));
  }

  @Test
  @DisplayName(
      "#217: When a user's rule routes only to canary, then it is never touched or removed")
  void canaryOnlyUserRuleLeftAlone() {
    JsonNode preview = rules(Fixtures.richHttpRoute()).get(2);

    h.router.setWeight(CALLER, rollout, 30, List.of());
    h.router.setHeaderRoute(
        CALLER, rollout, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));
    h.router.removeManagedRoutes(CALLER, rollout);
    h.router.setWeight(CALLER, rollout, 0, List.of());

    assertThat(rules(route()).get(2)).isEqualTo(preview);
    assertThat(rules(route())).hasSize(4);
  }

  @Test
  @DisplayName("#158: When SetWeight follows a header route, then the header rule keeps weight 1")
  void headerRuleNotGivenSetWeightWeights() {
    h.router.setHeaderRoute(
        CALLER, rollout, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));

    h.router.setWeight(CALLER, rollout, 40, List.of());

    assertThat(weights(route(), 4)).containsExactly(entry(CANARY, 1));
    assertThat(weights(route(), 5)).containsExactly(entry(CANARY, 1));
    assertThat(weights(route(), 0)).containsExactly(entry(STABLE, 60), entry(CANARY, 40));
  }

  @Test
  @DisplayName(
      "#215: When two header routes use the same header, then both exist; removal is exact")
  void headerRoutesOnTheSameHeaderCoexist() {
    h.router.setHeaderRoute(
        CALLER, rollout, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));
    h.router.setHeaderRoute(
        CALLER, rollout, new HeaderRoute("beta", List.of(exact("X-Canary", "beta"))));

    assertThat(rules(route()))
        .extracting(r -> r.path("name").asText())
        .containsExactly(
            "web",
            "other-team",
            "preview",
            "api",
            "canary-header",
            "canary-header-1",
            "beta",
            "beta-1");

    h.router.setHeaderRoute(CALLER, rollout, new HeaderRoute("beta", List.of()));

    assertThat(rules(route()))
        .extracting(r -> r.path("name").asText())
        .containsExactly("web", "other-team", "preview", "api", "canary-header", "canary-header-1");
    assertThat(
            rules(route())
                .get(4)
                .path("matches")
                .get(0)
                .path("headers")
                .get(1)
                .path("value")
                .asText())
        .isEqualTo("yes");
  }

  @Test
  @DisplayName("#156: When a rule has filters and fields no model knows, then they survive")
  void unknownFiltersAndFieldsSurvive() {
    h.router.setWeight(CALLER, rollout, 30, List.of());
    h.router.setHeaderRoute(
        CALLER, rollout, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));
    h.router.setWeight(CALLER, rollout, 50, List.of());

    ObjectNode expected = Fixtures.richHttpRoute();
    ArrayNode web = (ArrayNode) expected.path("spec").path("rules").get(0).path("backendRefs");
    ((ObjectNode) web.get(0)).put("weight", 50);
    ((ObjectNode) web.get(1)).put("weight", 50);
    ArrayNode api = (ArrayNode) expected.path("spec").path("rules").get(3).path("backendRefs");
    ((ObjectNode) api.get(0)).put("weight", 50);
    ((ObjectNode) api.get(1)).put("weight", 50);
    ObjectNode actual = route();
    ((ArrayNode) actual.path("spec").path("rules")).remove(5);
    ((ArrayNode) actual.path("spec").path("rules")).remove(4);
    assertThat(actual.path("spec")).isEqualTo(expected.path("spec"));
    assertThat(rules(route()).get(4).path("filters").get(0).path("type").asText())
        .isEqualTo("CORS");
  }

  @Test
  @DisplayName("#230: When nothing changes, then nothing is written")
  void noWriteWhenUnchanged() {
    h.router.setWeight(CALLER, rollout, 30, List.of());
    int writes = h.cluster.writes().size();

    for (int i = 0; i < 3; i++) {
      h.router.removeManagedRoutes(CALLER, rollout);
      h.router.setWeight(CALLER, rollout, 30, List.of());
    }

    assertThat(h.cluster.writes()).hasSize(writes);
    assertThat(h.metrics.count("skipped HTTPRoute default/shop SET_WEIGHT")).isEqualTo(3);
  }

  @Test
  @DisplayName("#230: When a steady Rollout is reconciled (weight 0, nothing managed), no write")
  void steadyStateWritesNothing() {
    h.router.setWeight(CALLER, rollout, 0, List.of());
    int writes = h.cluster.writes().size();

    h.router.removeManagedRoutes(CALLER, rollout);
    h.router.setWeight(CALLER, rollout, 0, List.of());

    assertThat(h.cluster.writes()).hasSize(writes);
  }

  @Test
  @DisplayName("#151: When SetHeaderRoute repeats between weight changes, then no duplicate rules")
  void repeatedHeaderRouteDoesNotDuplicate() {
    for (int weight : new int[] {10, 20, 30, 30, 50}) {
      h.router.setHeaderRoute(
          CALLER, rollout, new HeaderRoute("canary-header", List.of(exact("X-Canary", "yes"))));
      h.router.setWeight(CALLER, rollout, weight, List.of());
    }

    assertThat(rules(route())).hasSize(6);
    assertThat(rules(route())).extracting(r -> r.path("name").asText()).doesNotHaveDuplicates();
  }
}
