package io.weighbridge.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RecordingTrafficRouterTest {
  private static final Caller CALLER = new Caller("weighbridge/gateway-api", "test");
  private final ObjectMapper json = new ObjectMapper();
  private final RecordingTrafficRouter router = new RecordingTrafficRouter();

  private Rollout rollout(Map<String, String> annotations) {
    ObjectNode node = json.createObjectNode();
    ObjectNode metadata = node.putObject("metadata");
    metadata.put("namespace", "shop").put("name", "checkout");
    ObjectNode a = metadata.putObject("annotations");
    annotations.forEach(a::put);
    return new Rollout("shop", "checkout", "uid-1", 3, "42", node);
  }

  @Test
  @DisplayName("When a call succeeds, then it is recorded with all its arguments and its answer")
  void recordsArguments() {
    Rollout rollout = rollout(Map.of());
    List<WeightDestination> extra = List.of(new WeightDestination("exp", "abc", 5));

    router.setWeight(CALLER, rollout, 30, extra);
    VerifyResult verified = router.verifyWeight(CALLER, rollout, 30, extra);

    assertThat(verified).isEqualTo(VerifyResult.verified());
    assertThat(router.calls(c -> true))
        .extracting(RecordingTrafficRouter.RecordedCall::method)
        .containsExactly("setWeight", "verifyWeight");
    RecordingTrafficRouter.RecordedCall setWeight = router.calls(c -> true).get(0);
    assertThat(setWeight.caller()).isEqualTo(CALLER);
    assertThat(setWeight.rollout()).isSameAs(rollout);
    assertThat(setWeight.args())
        .containsEntry("desiredWeight", 30)
        .containsEntry("additionalDestinations", extra);
    assertThat(setWeight.answer()).isEmpty();
  }

  @Test
  @DisplayName("When an error annotation names the method, then it throws that kind and records it")
  void scriptedErrors() {
    Rollout rollout =
        rollout(
            Map.of(
                RecordingTrafficRouter.ERROR_PREFIX + "setWeight", "NotFound: no route x",
                RecordingTrafficRouter.ERROR_PREFIX + "updateHash", "PartialFailure: half done"));

    assertThatThrownBy(() -> router.setWeight(CALLER, rollout, 1, List.of()))
        .isInstanceOf(NotFoundException.class)
        .hasMessage("no route x");
    assertThatThrownBy(() -> router.updateHash(CALLER, rollout, "c", "s", List.of()))
        .isInstanceOf(PartialFailureException.class)
        .hasMessage("half done");
    router.removeManagedRoutes(CALLER, rollout);

    assertThat(router.calls(c -> c.method().equals("setWeight")).get(0).answer())
        .isEqualTo(
            Map.of("error", Map.of("exception", "NotFoundException", "message", "no route x")));
    assertThat(router.calls(c -> c.method().equals("removeManagedRoutes")).get(0).answer())
        .isEmpty();
  }

  @Test
  @DisplayName("When verify annotations are set, then VerifyWeight answers as they say")
  void scriptedVerification() {
    assertThat(
            router.verifyWeight(
                CALLER,
                rollout(Map.of(RecordingTrafficRouter.VERIFY, "NotVerified: still at 10")),
                20,
                List.of()))
        .isEqualTo(VerifyResult.notVerified("still at 10"));
    assertThat(
            router.verifyWeight(
                CALLER,
                rollout(Map.of(RecordingTrafficRouter.VERIFY, "NotImplemented: off")),
                20,
                List.of()))
        .isEqualTo(VerifyResult.notImplemented("off"));
    Rollout atTen = rollout(Map.of(RecordingTrafficRouter.VERIFIED_WEIGHT, "10"));
    assertThat(router.verifyWeight(CALLER, atTen, 10, List.of()))
        .isEqualTo(VerifyResult.verified());
    assertThat(router.verifyWeight(CALLER, atTen, 20, List.of()).verification())
        .isEqualTo(VerifyResult.Verification.NOT_VERIFIED);
  }

  @Test
  @DisplayName("When InitPlugin is scripted to fail, then it fails until reset")
  void initPluginScript() {
    router.failInitPlugin("Unavailable: kube-apiserver unreachable");

    assertThatThrownBy(() -> router.initPlugin(CALLER))
        .isInstanceOf(UnavailableException.class)
        .hasMessage("kube-apiserver unreachable");
    router.reset();
    router.initPlugin(CALLER);

    assertThat(router.calls(c -> true)).hasSize(1);
    assertThatThrownBy(() -> router.failInitPlugin("Bogus: x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown kind Bogus");
  }

  @Test
  @DisplayName("When calls of a rendezvous group overlap, then all of them proceed")
  void rendezvous() {
    Rollout rollout =
        rollout(Map.of(RecordingTrafficRouter.RENDEZVOUS_PREFIX + "setWeight", "unit/2"));

    CompletableFuture<Void> first =
        CompletableFuture.runAsync(() -> router.setWeight(CALLER, rollout, 1, List.of()));
    router.setWeight(CALLER, rollout, 2, List.of());
    first.join();

    assertThat(router.calls(c -> true)).hasSize(2);
  }
}
