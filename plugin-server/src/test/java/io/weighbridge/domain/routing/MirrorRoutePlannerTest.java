package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.context;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.CONFIG;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.id;
import static io.weighbridge.domain.routing.HeaderRoutePlannerTest.rules;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.MirrorRoute.RequestMatch;
import io.weighbridge.domain.StringMatch;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class MirrorRoutePlannerTest {

  static StringMatch exact(String v) {
    return new StringMatch(v, null, null);
  }

  static StringMatch prefix(String v) {
    return new StringMatch(null, v, null);
  }

  static StringMatch regex(String v) {
    return new StringMatch(null, null, v);
  }

  static RouteWriter.Step mirror(RouteContext ctx, MirrorRoute route) {
    List<ObjectNode> matches = MirrorRoutePlanner.matches(route, CONFIG);
    return (b, ledger) ->
        MirrorRoutePlanner.plan(b, ledger, ctx, route.name(), matches, route.percentage());
  }

  @Test
  @DisplayName("Argo's matches become HTTPRoute matches, one per Argo match")
  void conversion() {
    List<ObjectNode> m =
        MirrorRoutePlanner.matches(
            new MirrorRoute(
                "mirror-1",
                List.of(
                    new RequestMatch(
                        exact("post"),
                        prefix("/api"),
                        Map.of("X-B", regex("b+"), "X-A", prefix("a."))),
                    new RequestMatch(null, exact("/health"), Map.of()),
                    new RequestMatch(null, regex("/v[0-9]+/.*"), Map.of()),
                    new RequestMatch(null, null, Map.of())),
                null),
            CONFIG);

    assertThat(m)
        .containsExactly(
            obj(
                """
                {'path': {'type': 'PathPrefix', 'value': '/api'}, 'method': 'POST',
                 'headers': [{'name': 'X-A', 'type': 'RegularExpression', 'value': '^a\\\\..*'},
                             {'name': 'X-B', 'type': 'RegularExpression', 'value': 'b+'}]}
                """),
            obj("{'path': {'type': 'Exact', 'value': '/health'}}"),
            obj("{'path': {'type': 'RegularExpression', 'value': '/v[0-9]+/.*'}}"),
            obj("{'path': {'type': 'PathPrefix', 'value': '/'}}"));
  }

  @Test
  void conversionErrors() {
    assertThatThrownBy(
            () ->
                MirrorRoutePlanner.matches(
                    new MirrorRoute(
                        "mirror-1", List.of(new RequestMatch(prefix("GE"), null, Map.of())), null),
                    CONFIG))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining(
            "setMirrorRoute \"mirror-1\".match[0].method must be an exact HTTP method");
    assertThatThrownBy(
            () ->
                MirrorRoutePlanner.matches(
                    new MirrorRoute(
                        "mirror-1",
                        List.of(new RequestMatch(exact("FETCH"), null, Map.of())),
                        null),
                    CONFIG))
        .hasMessageContaining("must be an exact HTTP method");
    assertThatThrownBy(
            () ->
                MirrorRoutePlanner.matches(
                    new MirrorRoute(
                        "mirror-1", List.of(new RequestMatch(null, exact("api"), Map.of())), null),
                    CONFIG))
        .hasMessageContaining("match[0].path must start with '/'");
    assertThatThrownBy(
            () ->
                MirrorRoutePlanner.matches(
                    new MirrorRoute(
                        "mirror-1", List.of(new RequestMatch(null, null, Map.of())), 101),
                    CONFIG))
        .hasMessageContaining("percentage is 101");
    assertThatThrownBy(
            () ->
                MirrorRoutePlanner.matches(
                    new MirrorRoute("nope", List.of(new RequestMatch(null, null, Map.of())), null),
                    CONFIG))
        .hasMessageContaining("setMirrorRoute \"nope\" is not listed in");
  }

  @Test
  @DisplayName(
      "When a 20% mirror is set, then one rule: Argo's matches, stable backend, mirror to canary")
  void mirrorRule() {
    ObjectNode route = Fixtures.richHttpRoute();
    RouteContext ctx = context(id(route));
    MirrorRoute mr =
        new MirrorRoute(
            "mirror-1", List.of(new RequestMatch(exact("GET"), prefix("/"), Map.of())), 20);

    Planning.Result r = Planning.run(route, ctx, mirror(ctx, mr));

    List<JsonNode> rules = rules(r.after());
    assertThat(rules).hasSize(5);
    assertThat(rules.subList(1, 5)).isEqualTo(rules(route));
    assertThat(rules.get(0))
        .isEqualTo(
            obj(
                """
                {'name': 'mirror-1',
                 'matches': [{'path': {'type': 'PathPrefix', 'value': '/'}, 'method': 'GET'}],
                 'filters': [{'type': 'RequestMirror',
                              'requestMirror': {'backendRef': {'group': '', 'kind': 'Service',
                                                  'name': 'argo-rollouts-canary-service',
                                                  'port': 80},
                                                'percent': 20}}],
                 'backendRefs': [{'group': '', 'kind': 'Service',
                                  'name': 'argo-rollouts-stable-service', 'port': 80,
                                  'weight': 1}]}
                """));
    assertThat(Planning.run(r.after(), ctx, mirror(ctx, mr)).ops()).isEmpty();
  }

  @Test
  @DisplayName("When weights change during a mirror step, then the shifted rules get them")
  void weightsAfterMirror() {
    ObjectNode route = Fixtures.richHttpRoute();
    RouteContext ctx = context(id(route));
    MirrorRoute mr =
        new MirrorRoute("mirror-1", List.of(new RequestMatch(null, prefix("/"), Map.of())), null);
    Planning.Result mirrored = Planning.run(route, ctx, mirror(ctx, mr));

    Planning.Result weighted =
        Planning.run(
            mirrored.after(),
            ctx,
            WeightPlannerTest.weightStep(ctx, WeightPlannerTest.desired(40)));

    assertThat(Fixtures.weights(weighted.after(), 0))
        .containsExactly(org.assertj.core.api.Assertions.entry(Fixtures.STABLE, 1));
    assertThat(Fixtures.weights(weighted.after(), 1))
        .containsEntry(Fixtures.CANARY, 40)
        .containsEntry(Fixtures.STABLE, 60);
  }

  @Test
  @DisplayName("When the schema has no requestMirror.percent, then a partial mirror is an error")
  void percentUnsupported() {
    ObjectNode route = Fixtures.richHttpRoute();
    RouteContext ctx = context(id(route), List.of(), true, false);
    MirrorRoute partial =
        new MirrorRoute("mirror-1", List.of(new RequestMatch(null, prefix("/"), Map.of())), 5);
    MirrorRoute full =
        new MirrorRoute("mirror-1", List.of(new RequestMatch(null, prefix("/"), Map.of())), 100);

    assertThatThrownBy(() -> Planning.run(route, ctx, mirror(ctx, partial)))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining(
            "asks to mirror 5% but the HTTPRoute schema this cluster serves has no"
                + " requestMirror.percent")
        .hasMessageContaining("would mirror 100%");
    Planning.Result r = Planning.run(route, ctx, mirror(ctx, full));
    assertThat(rules(r.after()).get(0).path("filters").get(0).path("requestMirror").has("percent"))
        .isFalse();
  }

  @Test
  @DisplayName("When the mirror route is removed, then exactly its rule goes")
  void removal() {
    ObjectNode route = Fixtures.richHttpRoute();
    RouteContext ctx = context(id(route));
    MirrorRoute mr =
        new MirrorRoute("mirror-1", List.of(new RequestMatch(null, prefix("/"), Map.of())), null);
    Planning.Result set = Planning.run(route, ctx, mirror(ctx, mr));

    Planning.Result removed =
        Planning.run(
            set.after(),
            ctx,
            (b, l) -> MirrorRoutePlanner.plan(b, l, ctx, "mirror-1", List.of(), null));

    assertThat(rules(removed.after())).isEqualTo(rules(route));
  }
}
