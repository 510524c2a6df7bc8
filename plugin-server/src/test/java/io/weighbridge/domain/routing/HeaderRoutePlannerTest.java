package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.context;
import static io.weighbridge.domain.routing.Fixtures.obj;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.HeaderRoute.HeaderMatch;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.StringMatch;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class HeaderRoutePlannerTest {

  static final RoutingConfig CONFIG =
      RoutingConfigParser.parse(
          rollout()
              .managedRoutes("canary-header", "beta", "mirror-1")
              .plugin("{'httpRoute': 'shop'}")
              .build(),
          PLUGIN);

  static HeaderMatch exact(String header, String value) {
    return new HeaderMatch(header, new StringMatch(value, null, null));
  }

  static HeaderMatch prefix(String header, String value) {
    return new HeaderMatch(header, new StringMatch(null, value, null));
  }

  static HeaderMatch regex(String header, String value) {
    return new HeaderMatch(header, new StringMatch(null, null, value));
  }

  static GatewayApiTrafficRouter.Step header(RouteContext ctx, String name, HeaderMatch... m) {
    List<ObjectNode> matches =
        m.length == 0
            ? List.of()
            : HeaderRoutePlanner.headerMatches(new HeaderRoute(name, List.of(m)), CONFIG);
    return (b, ledger) -> HeaderRoutePlanner.plan(b, ledger, ctx, name, matches);
  }

  static RouteId id(JsonNode route) {
    return WeightPlannerTest.observe(route).id();
  }

  static List<JsonNode> rules(JsonNode route) {
    List<JsonNode> out = new ArrayList<>();
    route.path("spec").path("rules").forEach(out::add);
    return out;
  }

  @Nested
  @DisplayName("converting Argo's matches")
  class Conversion {

    @Test
    void exactPrefixRegex() {
      List<ObjectNode> m =
          HeaderRoutePlanner.headerMatches(
              new HeaderRoute(
                  "canary-header",
                  List.of(
                      exact("X-Canary", "yes"),
                      prefix("X-Version", "v1.2+"),
                      regex("X-User", "^(alice|bob)$"))),
              CONFIG);

      assertThat(m)
          .containsExactly(
              obj("{'name': 'X-Canary', 'type': 'Exact', 'value': 'yes'}"),
              obj(
                  "{'name': 'X-Version', 'type': 'RegularExpression', 'value': '^v1\\\\.2\\\\+.*'}"),
              obj("{'name': 'X-User', 'type': 'RegularExpression', 'value': '^(alice|bob)$'}"));
    }

    @Test
    void quoting() {
      assertThat(HeaderRoutePlanner.quoteRegex("a.b*c(d)[e]{f}|g^h$i?j+k\\l"))
          .isEqualTo("a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\?j\\+k\\\\l");
    }

    @Test
    void errors() {
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute("unlisted", List.of(exact("a", "b"))), CONFIG))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining(
              "setHeaderRoute \"unlisted\" is not listed in"
                  + " spec.strategy.canary.trafficRouting.managedRoutes: add {name: unlisted}");
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute("beta", List.of(exact("bad header", "b"))), CONFIG))
          .hasMessageContaining(
              "setHeaderRoute \"beta\".match[0].headerName must be a header name");
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute("beta", List.of(exact("X-A", "1"), exact("x-a", "2"))),
                      CONFIG))
          .hasMessageContaining("match[1] repeats header x-a");
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute("beta", List.of(new HeaderMatch("X-A", null))), CONFIG))
          .hasMessageContaining("match[0].headerValue is missing");
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute(
                          "beta", List.of(new HeaderMatch("X-A", new StringMatch("a", "b", null)))),
                      CONFIG))
          .hasMessageContaining(
              "setHeaderRoute \"beta\".match[0].headerValue must set exactly one of exact, prefix"
                  + " or regex (it sets 2)");
      assertThatThrownBy(
              () ->
                  HeaderRoutePlanner.headerMatches(
                      new HeaderRoute(
                          "beta",
                          List.of(new HeaderMatch("X-A", new StringMatch(null, null, null)))),
                      CONFIG))
          .hasMessageContaining("(it sets 0)");
    }
  }

  @Nested
  @DisplayName("planning on routes")
  class Plan {

    @Test
    @DisplayName(
        "When a header route is set on a two-split-rule route, then one managed rule per split rule")
    void onePerSourceRule() {
      ObjectNode route = Fixtures.richHttpRoute();
      RouteContext ctx = context(id(route));

      Planning.Result r =
          Planning.run(route, ctx, header(ctx, "canary-header", exact("X-Canary", "yes")));

      List<JsonNode> rules = rules(r.after());
      assertThat(rules).hasSize(6);
      assertThat(rules.subList(0, 4)).isEqualTo(rules(route));
      assertThat(rules.get(4))
          .isEqualTo(
              obj(
                  """
                  {'name': 'canary-header',
                   'matches': [{'path': {'type': 'PathPrefix', 'value': '/'},
                                'headers': [{'type': 'Exact', 'name': 'x-tenant', 'value': 'a'},
                                            {'name': 'X-Canary', 'type': 'Exact', 'value': 'yes'}]}],
                   'filters': [{'type': 'CORS', 'cors': {'allowOrigins': ['https://example.com'],
                                                         'maxAge': 5}}],
                   'timeouts': {'request': '10s'},
                   'backendRefs': [{'group': '', 'kind': 'Service',
                                    'name': 'argo-rollouts-canary-service', 'port': 80,
                                    'weight': 1}]}
                  """));
      assertThat(rules.get(5).path("name").asText()).isEqualTo("canary-header-1");
      assertThat(rules.get(5).path("backendRefs").get(0).path("port").asInt()).isEqualTo(8080);
      assertThat(rules.get(5).path("matches").get(0).path("path").path("value").asText())
          .isEqualTo("/api");
    }

    @Test
    @DisplayName("When the source already matches the same header, then ours replaces it")
    void sameHeaderInSource() {
      ObjectNode route = Fixtures.richHttpRoute();
      RouteContext ctx = context(id(route));

      Planning.Result r = Planning.run(route, ctx, header(ctx, "beta", exact("X-Tenant", "b")));

      assertThat(rules(r.after()).get(4).path("matches").get(0).path("headers"))
          .isEqualTo(Fixtures.json("[{'name': 'X-Tenant', 'type': 'Exact', 'value': 'b'}]"));
    }

    @Test
    @DisplayName("When a GRPCRoute (v1alpha2) gets a header route, then method matches are kept")
    void grpc() {
      ObjectNode route = Fixtures.grpcRoute();
      RouteContext ctx = context(id(route), List.of(), false, false);

      Planning.Result r = Planning.run(route, ctx, header(ctx, "beta", prefix("x-build", "7")));

      JsonNode managed = rules(r.after()).get(1);
      assertThat(managed)
          .isEqualTo(
              obj(
                  """
                  {'matches': [{'method': {'type': 'Exact', 'service': 'helloworld.Greeter',
                                           'method': 'SayHello'},
                                'headers': [{'name': 'x-build', 'type': 'RegularExpression',
                                             'value': '^7.*'}]}],
                   'backendRefs': [{'group': 'core', 'kind': 'Service',
                                    'name': 'argo-rollouts-canary-service', 'port': 9000,
                                    'weight': 1}]}
                  """));
    }

    @Test
    @DisplayName("When the CRD has no rule names, then the rule is found by fingerprint")
    void withoutRuleNames() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      RouteContext ctx = context(id(route), List.of(), false, false);

      Planning.Result set =
          Planning.run(route, ctx, header(ctx, "canary-header", exact("X-Test", "test")));
      Planning.Result again =
          Planning.run(set.after(), ctx, header(ctx, "canary-header", exact("X-Test", "test")));
      Planning.Result changed =
          Planning.run(set.after(), ctx, header(ctx, "canary-header", exact("X-Test", "other")));
      Planning.Result removed = Planning.run(changed.after(), ctx, header(ctx, "canary-header"));

      assertThat(rules(set.after())).hasSize(2);
      assertThat(rules(set.after()).get(1).has("name")).isFalse();
      assertThat(again.ops()).isEmpty();
      assertThat(rules(changed.after())).hasSize(2);
      assertThat(
              rules(changed.after())
                  .get(1)
                  .path("matches")
                  .get(0)
                  .path("headers")
                  .get(0)
                  .path("value")
                  .asText())
          .isEqualTo("other");
      assertThat(changed.summary()).contains("replace /spec/rules/1");
      assertThat(Planning.withoutVersions(removed.after()))
          .isEqualTo(Planning.withoutVersions(route));
    }

    @Test
    @DisplayName(
        "When the API server added defaults to our rule, then it still counts as unchanged")
    void defaultsDoNotCountAsChange() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      RouteContext ctx = context(id(route), List.of(), false, false);
      Planning.Result set = Planning.run(route, ctx, header(ctx, "beta", exact("X-Test", "1")));
      ObjectNode defaulted = set.after().deepCopy();
      ObjectNode match =
          (ObjectNode) defaulted.path("spec").path("rules").get(1).path("matches").get(0);
      match.putObject("path").put("type", "PathPrefix").put("value", "/");

      Planning.Result again =
          Planning.run(defaulted, ctx, header(ctx, "beta", exact("X-Test", "1")));

      assertThat(again.ops()).isEmpty();
    }

    @Test
    @DisplayName("When someone else's rule has the managed rule's name, then a clear error")
    void nameTaken() {
      ObjectNode taken = Fixtures.richHttpRoute();
      ((ObjectNode) taken.path("spec").path("rules").get(1)).put("name", "beta-1");
      RouteContext ctx2 = context(id(taken));
      assertThatThrownBy(() -> Planning.run(taken, ctx2, header(ctx2, "beta", exact("a", "b"))))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("HTTPRoute default/shop already has a rule named \"beta-1\"");
    }

    @Test
    @DisplayName("When a managed route name cannot be a rule name, then a clear error")
    void badRuleName() {
      RoutingConfig config =
          RoutingConfigParser.parse(
              rollout().managedRoutes("Canary_Header").plugin("{'httpRoute': 'shop'}").build(),
              PLUGIN);
      List<ObjectNode> m =
          HeaderRoutePlanner.headerMatches(
              new HeaderRoute("Canary_Header", List.of(exact("a", "b"))), config);
      ObjectNode route = Fixtures.richHttpRoute();
      RouteContext ctx = context(id(route));

      assertThatThrownBy(
              () ->
                  Planning.run(
                      route, ctx, (b, l) -> HeaderRoutePlanner.plan(b, l, ctx, "Canary_Header", m)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("\"Canary_Header\" cannot be a Gateway API rule name");
    }

    @Test
    @DisplayName("When the route's canary backend moves, then the header rules follow")
    void headerRuleFollowsCanaryPort() {
      ObjectNode route = Fixtures.exampleRoute("linkerd/httproute.yaml");
      RouteContext ctx = context(id(route));
      Planning.Result set = Planning.run(route, ctx, header(ctx, "beta", exact("X-Test", "1")));
      ObjectNode moved = set.after().deepCopy();
      ((ObjectNode) moved.path("spec").path("rules").get(0).path("backendRefs").get(1))
          .put("port", 81);

      Planning.Result again = Planning.run(moved, ctx, header(ctx, "beta", exact("X-Test", "1")));

      assertThat(again.summary())
          .containsExactly(
              "test /spec/rules/1",
              "replace /spec/rules/1",
              "test /metadata/annotations/weighbridge.io~1managed",
              "replace /metadata/annotations/weighbridge.io~1managed");
      assertThat(rules(again.after()).get(1).path("backendRefs").get(0).path("port").asInt())
          .isEqualTo(81);
      assertThat(rules(again.after()).get(1).path("backendRefs").get(0).path("name").asText())
          .isEqualTo(CANARY);
    }
  }
}
