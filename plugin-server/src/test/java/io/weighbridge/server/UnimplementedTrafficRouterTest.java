package io.weighbridge.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.Rollout;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class UnimplementedTrafficRouterTest {
  private static final UnimplementedTrafficRouter router = new UnimplementedTrafficRouter();
  private static final Caller caller = new Caller("weighbridge/gateway-api", "v1");
  private static final Rollout rollout =
      new Rollout("demo", "app", "u", 1, "1", JsonNodeFactory.instance.objectNode());

  @Test
  void initPluginAndTypeSucceed() {
    assertThatCode(() -> router.initPlugin(caller)).doesNotThrowAnyException();
    assertThat(router.type()).isEqualTo("Weighbridge");
    assertThat(router.isReady()).isTrue();
  }

  static Map<String, Consumer<UnimplementedTrafficRouter>> routeChangingCalls() {
    return Map.of(
        "UpdateHash", r -> r.updateHash(caller, rollout, "c", "s", List.of()),
        "SetWeight", r -> r.setWeight(caller, rollout, 10, List.of()),
        "SetHeaderRoute", r -> r.setHeaderRoute(caller, rollout, new HeaderRoute("h", List.of())),
        "SetMirrorRoute",
            r -> r.setMirrorRoute(caller, rollout, new MirrorRoute("m", List.of(), null)),
        "VerifyWeight", r -> r.verifyWeight(caller, rollout, 10, List.of()),
        "RemoveManagedRoutes", r -> r.removeManagedRoutes(caller, rollout));
  }

  static List<String> calls() {
    return List.copyOf(routeChangingCalls().keySet());
  }

  @ParameterizedTest
  @MethodSource("calls")
  @DisplayName("When a route-changing call arrives, then it fails as not implemented, never fakes")
  void everyOtherCallIsNotImplemented(String call) {
    assertThatThrownBy(() -> routeChangingCalls().get(call).accept(router))
        .isInstanceOf(NotImplementedException.class)
        .hasMessageStartingWith(
            call + " is not implemented by this plugin-server build yet, so rollout demo/app");
  }
}
