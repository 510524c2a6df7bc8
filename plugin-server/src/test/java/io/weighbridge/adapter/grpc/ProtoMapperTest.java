package io.weighbridge.adapter.grpc;

import static io.weighbridge.fixtures.Requests.destination;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weighbridge.contract.v1.SetHeaderRoute;
import io.weighbridge.contract.v1.SetMirrorRoute;
import io.weighbridge.contract.v1.TypeResponse;
import io.weighbridge.contract.v1.Verification;
import io.weighbridge.contract.v1.VerifyWeightResponse;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.fixtures.Requests;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ProtoMapperTest {
  private final ProtoMapper mapper = new ProtoMapper();

  @Test
  void callerCarriesBothFields() {
    assertThat(mapper.caller(Requests.caller("org/name")))
        .isEqualTo(new Caller("org/name", "v0.1.0"));
  }

  @Test
  void absentCallerBecomesEmptyStrings() {
    assertThat(mapper.caller(io.weighbridge.contract.v1.Caller.getDefaultInstance()))
        .isEqualTo(new Caller("", ""));
  }

  @Test
  @DisplayName("When a rollout arrives, then every field and the parsed JSON are kept")
  void rolloutCarriesEveryField() {
    Rollout rollout = mapper.rollout("SetWeight", true, Requests.rollout());

    assertThat(rollout.namespace()).isEqualTo("demo");
    assertThat(rollout.name()).isEqualTo("app");
    assertThat(rollout.uid()).isEqualTo("uid-1");
    assertThat(rollout.generation()).isEqualTo(7);
    assertThat(rollout.resourceVersion()).isEqualTo("4711");
    assertThat(rollout.json().at("/metadata/resourceVersion").asText()).isEqualTo("4711");
    assertThat(
            rollout
                .json()
                .at("/spec/strategy/canary/trafficRouting/plugins")
                .get("weighbridge/gateway-api")
                .get("httpRoute")
                .asText())
        .isEqualTo("app-route");
  }

  @Test
  @DisplayName("When the request has no rollout, then INVALID_ARGUMENT says so")
  void missingRollout() {
    assertThatThrownBy(
            () ->
                mapper.rollout(
                    "SetWeight", false, io.weighbridge.contract.v1.Rollout.getDefaultInstance()))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageStartingWith("SetWeight request carries no rollout")
        .hasMessageContaining("same Weighbridge release");
  }

  @Test
  void rolloutWithoutName() {
    var proto = Requests.rollout().toBuilder().setName("").build();

    assertThatThrownBy(() -> mapper.rollout("UpdateHash", true, proto))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageStartingWith("UpdateHash request carries a rollout without namespace or name")
        .hasMessageContaining("'demo/'");
  }

  @Test
  @DisplayName("When the rollout JSON is broken, then the message names the rollout and the fault")
  void brokenJson() {
    assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout("{\"a\":")))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageStartingWith(
            "SetWeight for rollout demo/app: the Rollout JSON cannot be parsed (")
        .hasMessageContaining("at byte")
        .hasMessageEndingWith("same Weighbridge release");
  }

  @Test
  void trailingGarbageIsRefused() {
    assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout("{} {}")))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("cannot be parsed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "  "})
  void emptyJson(String json) {
    assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout(json)))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("the Rollout JSON is empty, not an object");
  }

  @ParameterizedTest
  @ValueSource(strings = {"[]", "42", "\"x\"", "null"})
  void jsonThatIsNotAnObject(String json) {
    assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout(json)))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("not an object");
  }

  @Test
  void destinationsKeepOrderAndEveryField() {
    assertThat(
            mapper.destinations(
                List.of(destination("exp-a", "abc", 10), destination("exp-b", "def", 5))))
        .containsExactly(
            new WeightDestination("exp-a", "abc", 10), new WeightDestination("exp-b", "def", 5));
  }

  @Test
  @DisplayName("When a header match has no value, then the domain gets null, not an empty match")
  void headerRouteCarriesEveryField() {
    HeaderRoute route = mapper.headerRoute("demo/app", true, Requests.headerRoute());

    assertThat(route.name()).isEqualTo("canary-header");
    assertThat(route.matches())
        .containsExactly(
            new HeaderRoute.HeaderMatch("x-canary", new StringMatch("yes", "", "")),
            new HeaderRoute.HeaderMatch("x-bare", null));
    assertThat(route.isRemoval()).isFalse();
  }

  @Test
  void headerRouteWithoutMatchesIsARemoval() {
    HeaderRoute route =
        mapper.headerRoute("demo/app", true, SetHeaderRoute.newBuilder().setName("gone").build());

    assertThat(route).isEqualTo(new HeaderRoute("gone", List.of()));
    assertThat(route.isRemoval()).isTrue();
  }

  @Test
  void missingHeaderRoute() {
    assertThatThrownBy(
            () -> mapper.headerRoute("demo/app", false, SetHeaderRoute.getDefaultInstance()))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageStartingWith("SetHeaderRoute for rollout demo/app carries no header_route");
  }

  @Test
  @DisplayName("When a mirror route arrives, then matches, absent parts and percentage map")
  void mirrorRouteCarriesEveryField() {
    MirrorRoute route = mapper.mirrorRoute("demo/app", true, Requests.mirrorRoute());

    assertThat(route.name()).isEqualTo("mirror");
    assertThat(route.percentage()).isEqualTo(25);
    assertThat(route.matches())
        .containsExactly(
            new MirrorRoute.RequestMatch(
                new StringMatch("GET", "", ""),
                new StringMatch("", "/api", ""),
                Map.of(
                    "x-user", new StringMatch("", "", "^a.*"),
                    "x-team", new StringMatch("blue", "", ""))),
            new MirrorRoute.RequestMatch(null, null, Map.of()));
  }

  @Test
  void mirrorRouteWithoutPercentageGetsNull() {
    MirrorRoute route =
        mapper.mirrorRoute(
            "demo/app", true, Requests.mirrorRoute().toBuilder().clearPercentage().build());

    assertThat(route.percentage()).isNull();
  }

  @Test
  void mirrorRouteWithZeroPercentKeepsTheZero() {
    MirrorRoute route =
        mapper.mirrorRoute(
            "demo/app", true, Requests.mirrorRoute().toBuilder().setPercentage(0).build());

    assertThat(route.percentage()).isZero();
  }

  @Test
  void mirrorRouteWithoutMatchesIsARemoval() {
    MirrorRoute route =
        mapper.mirrorRoute("demo/app", true, SetMirrorRoute.newBuilder().setName("m").build());

    assertThat(route).isEqualTo(new MirrorRoute("m", List.of(), null));
    assertThat(route.isRemoval()).isTrue();
  }

  @Test
  void missingMirrorRoute() {
    assertThatThrownBy(
            () -> mapper.mirrorRoute("demo/app", false, SetMirrorRoute.getDefaultInstance()))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageStartingWith("SetMirrorRoute for rollout demo/app carries no mirror_route");
  }

  @Test
  @DisplayName("When the router verifies, then every verdict and its reason map to the contract")
  void verifyResults() {
    assertThat(mapper.verifyWeightResponse(VerifyResult.verified()))
        .isEqualTo(
            VerifyWeightResponse.newBuilder()
                .setVerification(Verification.VERIFICATION_VERIFIED)
                .build());
    assertThat(mapper.verifyWeightResponse(VerifyResult.notVerified("route a at 10, want 20")))
        .isEqualTo(
            VerifyWeightResponse.newBuilder()
                .setVerification(Verification.VERIFICATION_NOT_VERIFIED)
                .setReason("route a at 10, want 20")
                .build());
    assertThat(mapper.verifyWeightResponse(VerifyResult.notImplemented("verification is off")))
        .isEqualTo(
            VerifyWeightResponse.newBuilder()
                .setVerification(Verification.VERIFICATION_NOT_IMPLEMENTED)
                .setReason("verification is off")
                .build());
  }

  @Test
  void nullReasonBecomesEmpty() {
    assertThat(
            mapper
                .verifyWeightResponse(
                    new VerifyResult(VerifyResult.Verification.NOT_VERIFIED, null))
                .getReason())
        .isEmpty();
  }

  @Test
  @DisplayName("When the router returns no verdict, then it is a bug, never UNSPECIFIED")
  void missingVerdict() {
    assertThatThrownBy(() -> mapper.verifyWeightResponse(null))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> mapper.verifyWeightResponse(new VerifyResult(null, "x")))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void typeResponse() {
    assertThat(mapper.typeResponse("Weighbridge"))
        .isEqualTo(TypeResponse.newBuilder().setType("Weighbridge").build());
    assertThatThrownBy(() -> mapper.typeResponse(null)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> mapper.typeResponse("")).isInstanceOf(IllegalStateException.class);
  }

  @Nested
  @DisplayName("When the Rollout JSON is hostile (issue 11)")
  class HostileJson {

    private String nested(int depth) {
      return "{\"metadata\":{\"namespace\":\"demo\",\"name\":\"app\"},\"spec\":"
          + "{\"a\":".repeat(depth)
          + "1"
          + "}".repeat(depth)
          + "}";
    }

    @Test
    @DisplayName(
        "When it nests 5,000 deep, then INVALID_ARGUMENT names the byte and the JSON path, bounded")
    void deepNestingIsInvalidWithPath() {
      assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout(nested(5000))))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("nesting depth")
          .hasMessageContaining("at byte ")
          .hasMessageContaining("JSON path /spec/a/a/a")
          .hasMessageContaining("characters cut")
          .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(1000));
    }

    @Test
    @DisplayName("When it nests 400 deep, then it is read")
    void moderateNestingIsRead() {
      assertThat(mapper.rollout("SetWeight", true, Requests.rollout(nested(400))).json().isObject())
          .isTrue();
    }

    @Test
    @DisplayName("When its metadata.namespace differs from the request's, then it is refused")
    void namespaceMismatch() {
      String json =
          Requests.ROLLOUT_JSON.replace("\"namespace\":\"demo\"", "\"namespace\":\"prod\"");

      assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout(json)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("metadata.namespace is 'prod', not the request's 'demo'");
    }

    @Test
    @DisplayName("When its metadata.name differs from the request's, then it is refused")
    void nameMismatch() {
      String json = Requests.ROLLOUT_JSON.replace("\"name\":\"app\"", "\"name\":\"other\"");

      assertThatThrownBy(() -> mapper.rollout("SetWeight", true, Requests.rollout(json)))
          .isInstanceOf(InvalidConfigException.class)
          .hasMessageContaining("metadata.name is 'other', not the request's 'app'");
    }

    @Test
    @DisplayName("When a 1 MiB name is echoed, then the message stays short")
    void hugeNameIsBounded() {
      String huge = "x".repeat(1 << 20);
      var proto = Requests.rollout("[").toBuilder().setName(huge).build();

      assertThatThrownBy(() -> mapper.rollout("SetWeight", true, proto))
          .isInstanceOf(InvalidConfigException.class)
          .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(1000));
    }
  }
}
