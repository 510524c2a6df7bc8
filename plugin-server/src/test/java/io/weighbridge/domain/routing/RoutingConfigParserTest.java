package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.INCUMBENT_PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.analysis.AnalysisConfig;
import io.weighbridge.domain.routing.RoutingConfig.InProgressLabel;
import io.weighbridge.domain.routing.RoutingConfig.LabelRequirement.Operator;
import io.weighbridge.domain.routing.RoutingConfig.RouteRef;
import io.weighbridge.domain.routing.RoutingConfig.VerifyMode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RoutingConfigParserTest {

  private static RoutingConfig parse(String pluginConfig) {
    return RoutingConfigParser.parse(rollout(pluginConfig), PLUGIN);
  }

  private static void assertInvalid(String pluginConfig, String... messageParts) {
    assertThatThrownBy(() -> parse(pluginConfig))
        .isInstanceOf(InvalidConfigException.class)
        .message()
        .contains(messageParts);
  }

  @Nested
  @DisplayName("the incumbent's schema")
  class IncumbentSchema {

    @Test
    @DisplayName("When the Traefik example's config is read, then one HTTPRoute with header routes")
    void traefikExample() {
      Rollout r =
          rollout()
              .plugin(
                  INCUMBENT_PLUGIN,
                  "{'httpRoute': 'argo-rollouts-http-route', 'namespace': 'default'}")
              .build();

      RoutingConfig config = RoutingConfigParser.parse(r, INCUMBENT_PLUGIN);

      assertThat(config.routes())
          .containsExactly(
              new RouteRef(
                  new RouteId(RouteKind.HTTP, "default", "argo-rollouts-http-route"),
                  true,
                  List.of(),
                  VerifyMode.STATUS,
                  "plugins[\"argoproj-labs/gatewayAPI\"].httpRoute"));
      assertThat(config.canaryService()).isEqualTo(Fixtures.CANARY);
      assertThat(config.stableService()).isEqualTo(Fixtures.STABLE);
      assertThat(config.maxTrafficWeight()).isEqualTo(100);
      assertThat(config.inProgressLabel())
          .contains(new InProgressLabel("rollouts.argoproj.io/gatewayapi-canary", "in-progress"));
      assertThat(config.verifyMode()).isEqualTo(VerifyMode.STATUS);
    }

    @Test
    @DisplayName("When every kind is named singly and in lists, then all routes in order")
    void everyKind() {
      RoutingConfig config =
          parse(
              """
              {'httpRoute': 'h0', 'grpcRoute': 'g0', 'tcpRoute': 't0', 'tlsRoute': 's0',
               'udpRoute': 'u0',
               'httpRoutes': [{'name': 'h1', 'useHeaderRoutes': true}, {'name': 'h2'}],
               'grpcRoutes': [{'name': 'g1', 'useHeaderRoutes': false}],
               'tcpRoutes': [{'name': 't1'}], 'tlsRoutes': [{'name': 's1'}],
               'udpRoutes': [{'name': 'u1'}]}
              """);

      assertThat(config.routes())
          .extracting(RouteRef::id, RouteRef::useHeaderRoutes)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.HTTP, "h0"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.HTTP, "h1"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.HTTP, "h2"), false),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.GRPC, "g0"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.GRPC, "g1"), false),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.TCP, "t0"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.TCP, "t1"), false),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.TLS, "s0"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.TLS, "s1"), false),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.UDP, "u0"), true),
              org.assertj.core.groups.Tuple.tuple(id(RouteKind.UDP, "u1"), false));
    }

    @Test
    @DisplayName("When namespace is absent, then routes are in the Rollout's namespace")
    void namespaceDefaultsToRollouts() {
      RoutingConfig config =
          RoutingConfigParser.parse(
              rollout().namespace("shop").plugin("{'httpRoute': 'r'}").build(), PLUGIN);

      assertThat(config.routes().getFirst().id())
          .isEqualTo(new RouteId(RouteKind.HTTP, "shop", "r"));
      assertThat(config.rolloutNamespace()).isEqualTo("shop");
    }

    @Test
    @DisplayName("When a route is named singly and in the list, then it is configured once")
    void duplicatesMerge() {
      RoutingConfig config = parse("{'httpRoute': 'r', 'httpRoutes': [{'name': 'r'}]}");

      assertThat(config.routes()).hasSize(1);
      assertThat(config.routes().getFirst().useHeaderRoutes()).isTrue();
    }

    @Test
    @DisplayName("When selectors are given, then matchLabels and matchExpressions are kept")
    void selectors() {
      RoutingConfig config =
          parse(
              """
              {'httpRouteSelector': {'matchLabels': {'app': 'demo'},
                 'matchExpressions': [{'key': 'tier', 'operator': 'In', 'values': ['web', 'api']},
                                      {'key': 'legacy', 'operator': 'DoesNotExist'}]},
               'tcpRouteSelector': {'matchLabels': {'app': 'demo'}},
               'udpRouteSelector': {'matchLabels': {'app': 'dns'}}}
              """);

      assertThat(config.routes()).isEmpty();
      assertThat(config.selectors()).hasSize(3);
      RoutingConfig.RouteSelector http = config.selectors().getFirst();
      assertThat(http.kind()).isEqualTo(RouteKind.HTTP);
      assertThat(http.namespace()).isEqualTo("default");
      assertThat(http.matchLabels()).isEqualTo(Map.of("app", "demo"));
      assertThat(http.matchExpressions())
          .extracting(RoutingConfig.LabelRequirement::operator)
          .containsExactly(Operator.IN, Operator.DOES_NOT_EXIST);
      assertThat(http.matchesExpressions(Map.of("tier", "web"))).isTrue();
      assertThat(http.matchesExpressions(Map.of("tier", "web", "legacy", "x"))).isFalse();
      assertThat(http.matchesExpressions(Map.of("tier", "db"))).isFalse();
      assertThat(config.selectors().get(1).kind()).isEqualTo(RouteKind.TCP);
      assertThat(config.selectors().get(2).kind()).isEqualTo(RouteKind.UDP);
      assertThat(config.selectors().get(2).matchLabels()).isEqualTo(Map.of("app", "dns"));
    }

    @Test
    @DisplayName("When the label is customised or disabled, then the config says so")
    void label() {
      assertThat(
              parse(
                      "{'httpRoute': 'r', 'inProgressLabelKey': 'example.com/canary',"
                          + " 'inProgressLabelValue': 'yes'}")
                  .inProgressLabel())
          .contains(new InProgressLabel("example.com/canary", "yes"));
      assertThat(parse("{'httpRoute': 'r', 'disableInProgressLabel': true}").inProgressLabel())
          .isEmpty();
      assertThat(parse("{'httpRoute': 'r', 'inProgressLabelKey': ''}").inProgressLabel())
          .contains(
              new InProgressLabel(
                  RoutingConfigParser.DEFAULT_LABEL_KEY, RoutingConfigParser.DEFAULT_LABEL_VALUE));
    }
  }

  @Nested
  @DisplayName("Weighbridge's additions")
  class Additions {

    @Test
    @DisplayName("When a list entry has namespace, ruleNames and verifyWeight, then they are kept")
    void perRouteSettings() {
      RoutingConfig config =
          parse(
              """
              {'namespace': 'edge', 'verifyWeight': 'spec',
               'httpRoutes': [{'name': 'a', 'namespace': 'other', 'ruleNames': ['web', 'api'],
                               'verifyWeight': 'status'},
                              {'name': 'b'}]}
              """);

      RouteRef a = config.routes().get(0);
      RouteRef b = config.routes().get(1);
      assertThat(a.id()).isEqualTo(new RouteId(RouteKind.HTTP, "other", "a"));
      assertThat(a.ruleNames()).containsExactly("web", "api");
      assertThat(a.verifyMode()).isEqualTo(VerifyMode.STATUS);
      assertThat(b.id()).isEqualTo(new RouteId(RouteKind.HTTP, "edge", "b"));
      assertThat(b.verifyMode()).isEqualTo(VerifyMode.SPEC);
      assertThat(config.verifyMode()).isEqualTo(VerifyMode.SPEC);
    }

    @Test
    @DisplayName("When maxTrafficWeight and managedRoutes are set, then they are read")
    void canaryStrategy() {
      RoutingConfig config =
          RoutingConfigParser.parse(
              rollout()
                  .maxTrafficWeight(1000)
                  .managedRoutes("header-a", "mirror-b")
                  .plugin("{'httpRoute': 'r'}")
                  .build(),
              PLUGIN);

      assertThat(config.maxTrafficWeight()).isEqualTo(1000);
      assertThat(config.managedRouteNames()).containsExactlyInAnyOrder("header-a", "mirror-b");
    }

    @Test
    @DisplayName("When verifyWeight is off, then the mode is OFF")
    void verifyOff() {
      assertThat(parse("{'httpRoute': 'r', 'verifyWeight': 'off'}").verifyMode())
          .isEqualTo(VerifyMode.OFF);
    }
  }

  @Nested
  @DisplayName("errors name the path, the problem and the fix")
  class Errors {

    @Test
    void missingPluginKey() {
      assertThatThrownBy(
              () -> RoutingConfigParser.parse(rollout().plugin("other/x", "{}").build(), PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("has no spec.strategy.canary.trafficRouting.plugins[\"" + PLUGIN)
          .hasMessageContaining("argo-rollouts-config");
    }

    @Test
    void pluginNotAnObject() {
      assertInvalid("'r'", "plugins[\"weighbridge/gateway-api\"] must be an object");
    }

    @Test
    @DisplayName("When a key is misspelt, then the error lists the known keys")
    void unknownKey() {
      assertInvalid(
          "{'httpRoutee': 'r'}",
          "plugins[\"weighbridge/gateway-api\"].httpRoutee is not a known key",
          "known keys here are httpRoute, httpRoutes, httpRouteSelector",
          "verifyWeight");
    }

    @Test
    void noRoutes() {
      assertInvalid(
          "{'namespace': 'default'}",
          "plugins[\"weighbridge/gateway-api\"] configures no route",
          "\"httpRoute\"");
    }

    @Test
    @DisplayName("When a list entry has no name, then the brief's exact message")
    void entryWithoutName() {
      assertThatThrownBy(() -> parse("{'httpRoutes': [{'name': 'a'}, {'useHeaderRoutes': true}]}"))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessage(
              "plugins[\"weighbridge/gateway-api\"].httpRoutes[1].name must be a non-empty string:"
                  + " set it to the HTTPRoute's name");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
        delimiter = '|',
        value = {
          "{'httpRoutes': 'r'}|httpRoutes must be an array of objects",
          "{'httpRoutes': ['r']}|httpRoutes[0] must be an object",
          "{'httpRoutes': [{'name': ''}]}|httpRoutes[0].name must be a non-empty string",
          "{'httpRoutes': [{'name': 'My_Route'}]}|httpRoutes[0].name \"My_Route\" is not a valid"
              + " Kubernetes name",
          "{'grpcRoutes': [{'name': 'g', 'headerRoutes': true}]}|grpcRoutes[0].headerRoutes is not"
              + " a known key",
          "{'httpRoutes': [{'name': 'r', 'useHeaderRoutes': 'yes'}]}|useHeaderRoutes must be true"
              + " or false",
          "{'httpRoute': 5}|httpRoute must be a string",
          "{'httpRoute': 'r', 'namespace': 'Bad NS'}|namespace \"Bad NS\" is not a valid",
          "{'httpRoutes': [{'name': 'r', 'ruleNames': []}]}|ruleNames must be a non-empty array",
          "{'httpRoutes': [{'name': 'r', 'ruleNames': ['a', 'a']}]}|ruleNames[1] repeats \"a\"",
          "{'httpRoutes': [{'name': 'r', 'ruleNames': [1]}]}|ruleNames[0] must be a rule name",
          "{'httpRouteSelector': {}}|httpRouteSelector is empty and would select every HTTPRoute",
          "{'httpRouteSelector': 'app=demo'}|httpRouteSelector must be a label selector object",
          "{'httpRouteSelector': {'matchLabel': {'a': 'b'}}}|httpRouteSelector.matchLabel is not a"
              + " known key",
          "{'httpRouteSelector': {'matchLabels': {'a': 1}}}|matchLabels[\"a\"] must be a label"
              + " value",
          "{'httpRouteSelector': {'matchExpressions': [{'key': 'a', 'operator': 'in', 'values':"
              + " ['x']}]}}|matchExpressions[0].operator must be one of In, NotIn, Exists,"
              + " DoesNotExist",
          "{'httpRouteSelector': {'matchExpressions': [{'key': 'a', 'operator': 'In'}]}}|"
              + "matchExpressions[0].values must list at least one value",
          "{'httpRouteSelector': {'matchExpressions': [{'key': 'a', 'operator': 'Exists', 'values':"
              + " ['x']}]}}|matchExpressions[0].values must be empty for operator Exists",
          "{'httpRoute': 'r', 'inProgressLabelKey': 'bad key'}|inProgressLabelKey \"bad key\" is"
              + " not a valid label key",
          "{'httpRoute': 'r', 'inProgressLabelValue': 'in progress'}|inProgressLabelValue is not a"
              + " valid label value",
          "{'httpRoute': 'r', 'disableInProgressLabel': 'true'}|disableInProgressLabel must be true"
              + " or false",
          "{'httpRoute': 'r', 'verifyWeight': true}|verifyWeight must be \"status\", \"spec\" or"
              + " \"off\"",
          "{'httpRoute': 'r', 'httpRoutes': [{'name': 'r', 'ruleNames': ['a']}]}|httpRoutes[0]"
              + " configures HTTPRoute default/r again",
        })
    void invalid(String config, String expected) {
      assertInvalid(config, expected);
    }

    @Test
    void missingServices() {
      assertThatThrownBy(
              () ->
                  RoutingConfigParser.parse(
                      rollout().services(null, "s").plugin("{'httpRoute': 'r'}").build(), PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("spec.strategy.canary.canaryService must name a Service");
      assertThatThrownBy(
              () ->
                  RoutingConfigParser.parse(
                      rollout().services("c", null).plugin("{'httpRoute': 'r'}").build(), PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("spec.strategy.canary.stableService must name a Service");
      assertThatThrownBy(
              () ->
                  RoutingConfigParser.parse(
                      rollout().services("s", "s").plugin("{'httpRoute': 'r'}").build(), PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("must name two different Services");
    }

    @Test
    void badMaxTrafficWeight() {
      assertThatThrownBy(
              () ->
                  RoutingConfigParser.parse(
                      rollout().maxTrafficWeight(0).plugin("{'httpRoute': 'r'}").build(), PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("maxTrafficWeight must be a positive integer");
    }

    @Test
    void notACanary() {
      Rollout blueGreen =
          new Rollout(
              "default",
              "bg",
              "u",
              1,
              "1",
              Fixtures.json("{'spec': {'strategy': {'blueGreen': {}}}}"));
      assertThatThrownBy(() -> RoutingConfigParser.parse(blueGreen, PLUGIN))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("has no spec.strategy.canary");
    }
  }

  private static RouteId id(RouteKind kind, String name) {
    return new RouteId(kind, "default", name);
  }

  @Nested
  @DisplayName("the analysis key")
  class Analysis {

    @Test
    @DisplayName("When no analysis key is written, then the protective defaults apply")
    void absentMeansDefaults() {
      RoutingConfig config = parse("{'httpRoute': 'web'}");
      assertThat(config.analysis()).isEqualTo(AnalysisConfig.DEFAULTS);
      assertThat(config.analysis().enabled()).isTrue();
      assertThat(config.analysis().successRate().policy().action())
          .isEqualTo(AnalysisConfig.Action.ABORT);
    }

    @Test
    @DisplayName("When an analysis block is written, then it is parsed with the plugin's path")
    void parsedByTheAnalysisParser() {
      RoutingConfig config =
          parse("{'httpRoute': 'web', 'analysis': {'action': 'pause', 'sensitivity': 'high'}}");
      assertThat(config.analysis().successRate().policy().action())
          .isEqualTo(AnalysisConfig.Action.PAUSE);
      assertThat(parse("{'httpRoute': 'web', 'analysis': false}").analysis().enabled()).isFalse();
      assertInvalid(
          "{'httpRoute': 'web', 'analysis': {'acton': 'pause'}}",
          "plugins[\"" + PLUGIN + "\"].analysis.acton");
    }
  }
}
