package io.weighbridge.domain.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.weighbridge.domain.PermissionDeniedException;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.auth.AuthMetrics.Refusal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class CallerGateTest {
  private static final ServiceAccount ARGO = new ServiceAccount("argo-rollouts", "argo-rollouts");

  /** What the API server's TokenReview says of a ServiceAccount's token. */
  static Identity serviceAccountToken(ServiceAccount account) {
    return new Identity(
        account.username(),
        List.of(
            "system:serviceaccounts",
            "system:serviceaccounts:" + account.namespace(),
            "system:authenticated"));
  }

  /** Tokens the fake cluster knows, by token. */
  private final Map<String, Identity> issued =
      Map.of(
          "argo-token",
          serviceAccountToken(ARGO),
          "intruder-token",
          serviceAccountToken(new ServiceAccount("default", "intruder")),
          "lookalike-token",
          new Identity(ARGO.username(), List.of("system:authenticated")),
          "half-lookalike-token",
          new Identity(ARGO.username(), List.of("system:authenticated", "system:serviceaccounts")),
          "pod-bound-token",
          new Identity(
              ARGO.username(),
              serviceAccountToken(ARGO).groups(),
              Map.of(Identity.POD_NAME, List.of("argo-0"), Identity.POD_UID, List.of("uid-1"))),
          "broken-pod-bound-token",
          new Identity(
              ARGO.username(),
              serviceAccountToken(ARGO).groups(),
              Map.of(Identity.POD_NAME, List.of("argo-0"))),
          "user-token",
          new Identity("alice@example.com", List.of("system:authenticated")));

  private final List<String> reviewed = new ArrayList<>();
  private final List<Refusal> refusals = new ArrayList<>();
  private final AtomicLong clock = new AtomicLong();
  private boolean apiServerDown;

  private final Authenticator cluster =
      token -> {
        reviewed.add(token);
        if (apiServerDown) {
          throw new UnavailableException("API server unreachable");
        }
        Identity identity = issued.get(token);
        if (identity == null) {
          throw new UnauthenticatedException("token not valid");
        }
        return identity;
      };

  private CallerGate gate(Duration ttl, int size) {
    return new CallerGate(
        cluster, new CallerGate.Settings(Set.of(ARGO), ttl, size), refusals::add, clock::get);
  }

  private CallerGate gate() {
    return gate(Duration.ofSeconds(60), 1024);
  }

  @Test
  @DisplayName("When the allowed service account's token comes, then the call is admitted")
  void admitsAllowedServiceAccount() {
    assertThat(gate().admit(Optional.of("Bearer argo-token"))).isEqualTo(ARGO);
    assertThat(gate().admit(Optional.of("bearer   argo-token "))).isEqualTo(ARGO);
    assertThat(refusals).isEmpty();
  }

  @Test
  @DisplayName("When no token comes, then UNAUTHENTICATED says to set --token-file")
  void refusesMissingToken() {
    CallerGate gate = gate();

    assertThatThrownBy(() -> gate.admit(Optional.empty()))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessageContaining("carried none")
        .hasMessageContaining("--token-file");
    assertThatThrownBy(() -> gate.admit(Optional.of(" ")))
        .isInstanceOf(UnauthenticatedException.class);
    assertThat(refusals).containsExactly(Refusal.MISSING_TOKEN, Refusal.MISSING_TOKEN);
    assertThat(reviewed).isEmpty();
  }

  @Test
  void refusesAnotherScheme() {
    assertThatThrownBy(() -> gate().admit(Optional.of("Basic dXNlcjpwYXNz")))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessageContaining("not 'Bearer <token>'");
    assertThatThrownBy(() -> gate().admit(Optional.of("Bearer ")))
        .isInstanceOf(UnauthenticatedException.class);
    assertThat(refusals).containsExactly(Refusal.MALFORMED_TOKEN, Refusal.MALFORMED_TOKEN);
    assertThat(reviewed).isEmpty();
  }

  @Test
  @DisplayName("When the cluster rejects the token, then its reason is passed on and counted")
  void refusesInvalidToken() {
    assertThatThrownBy(() -> gate().admit(Optional.of("Bearer forged")))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessage("token not valid");
    assertThat(refusals).containsExactly(Refusal.INVALID_TOKEN);
  }

  @Test
  @DisplayName(
      "When another service account's valid token comes, then PERMISSION_DENIED names it, the"
          + " allowed ones and the flag")
  void refusesOtherServiceAccount() {
    assertThatThrownBy(() -> gate().admit(Optional.of("Bearer intruder-token")))
        .isInstanceOf(PermissionDeniedException.class)
        .hasMessage(
            "service account default:intruder may not call plugin-server, which admits only"
                + " argo-rollouts:argo-rollouts: run the connector with the token of an allowed"
                + " service account, or add default:intruder to plugin-server's"
                + " --allowed-service-accounts");
    assertThatThrownBy(() -> gate().admit(Optional.of("Bearer user-token")))
        .isInstanceOf(PermissionDeniedException.class)
        .hasMessageStartingWith("user alice@example.com (not a service account) may not call");
    assertThat(refusals).containsExactly(Refusal.NOT_ALLOWED, Refusal.NOT_ALLOWED);
  }

  @Test
  @DisplayName("When the token cannot be checked, then the call fails UNAVAILABLE, counted")
  void reviewFailure() {
    apiServerDown = true;

    assertThatThrownBy(() -> gate().admit(Optional.of("Bearer argo-token")))
        .isInstanceOf(UnavailableException.class);
    assertThat(refusals).containsExactly(Refusal.REVIEW_FAILED);
  }

  @Test
  @DisplayName("When a verified token comes again within the TTL, then it is not reviewed again")
  void cachesVerifiedTokensForTheTtl() {
    CallerGate gate = gate();

    gate.admit(Optional.of("Bearer argo-token"));
    clock.addAndGet(Duration.ofSeconds(59).toNanos());
    apiServerDown = true; // a cached token keeps working through a short API server outage
    gate.admit(Optional.of("Bearer argo-token"));
    assertThat(reviewed).hasSize(1);

    clock.addAndGet(Duration.ofSeconds(2).toNanos());
    assertThatThrownBy(() -> gate.admit(Optional.of("Bearer argo-token")))
        .isInstanceOf(UnavailableException.class);
    assertThat(reviewed).hasSize(2);
  }

  @Test
  @DisplayName("When a not-allowed token comes again, then it is refused again without a review")
  void cachesIdentityNotDecision() {
    CallerGate gate = gate();

    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(() -> gate.admit(Optional.of("Bearer intruder-token")))
          .isInstanceOf(PermissionDeniedException.class);
    }
    assertThat(reviewed).hasSize(1);
  }

  @Test
  @DisplayName("When a token fails review, then it is not remembered: the next call reviews again")
  void doesNotCacheFailures() {
    CallerGate gate = gate();

    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(() -> gate.admit(Optional.of("Bearer forged")))
          .isInstanceOf(UnauthenticatedException.class);
    }
    assertThat(reviewed).hasSize(2);
    assertThat(gate.cachedTokens()).isZero();
  }

  @Test
  void cacheIsBoundedAndKeepsTheRecentlyUsed() {
    CallerGate gate = gate(Duration.ofSeconds(60), 1);

    gate.admit(Optional.of("Bearer argo-token"));
    assertThatThrownBy(() -> gate.admit(Optional.of("Bearer intruder-token")))
        .isInstanceOf(PermissionDeniedException.class);
    gate.admit(Optional.of("Bearer argo-token"));

    assertThat(gate.cachedTokens()).isEqualTo(1);
    assertThat(reviewed).containsExactly("argo-token", "intruder-token", "argo-token");
  }

  @Test
  void zeroTtlReviewsEveryCall() {
    CallerGate gate = gate(Duration.ZERO, 10);

    gate.admit(Optional.of("Bearer argo-token"));
    gate.admit(Optional.of("Bearer argo-token"));

    assertThat(reviewed).hasSize(2);
  }

  @Test
  void serviceAccountNames() {
    assertThat(ServiceAccount.parse(" ns:name ")).isEqualTo(new ServiceAccount("ns", "name"));
    assertThat(ServiceAccount.fromUsername("system:serviceaccount:a:b"))
        .contains(new ServiceAccount("a", "b"));
    assertThat(ServiceAccount.fromUsername("system:serviceaccount:a:b:c")).isEmpty();
    assertThat(ServiceAccount.fromUsername("alice")).isEmpty();
    assertThatThrownBy(() -> ServiceAccount.parse("ns"))
        .hasMessageContaining("is not <namespace>:<name>");
    assertThatThrownBy(() -> ServiceAccount.parse("NS:x")).hasMessageContaining("lower-case");
  }

  @Nested
  @DisplayName("When a caller is named like the allowed ServiceAccount (issue 11)")
  class Lookalikes {

    @Test
    @DisplayName(
        "When it lacks the service-account groups, then PERMISSION_DENIED says it is not one")
    void lookalikeRefused() {
      assertThatThrownBy(() -> gate().admit(Optional.of("Bearer lookalike-token")))
          .isInstanceOf(PermissionDeniedException.class)
          .hasMessageStartingWith(
              "user system:serviceaccount:argo-rollouts:argo-rollouts (named like a service"
                  + " account but not in its group(s) system:serviceaccounts,"
                  + " system:serviceaccounts:argo-rollouts");
      assertThat(refusals).containsExactly(Refusal.NOT_ALLOWED);
    }

    @Test
    @DisplayName("When it lacks only the namespace's group, then it is refused too")
    void halfLookalikeRefused() {
      assertThatThrownBy(() -> gate().admit(Optional.of("Bearer half-lookalike-token")))
          .isInstanceOf(PermissionDeniedException.class)
          .hasMessageContaining("not in its group(s) system:serviceaccounts:argo-rollouts,");
    }

    @Test
    @DisplayName("When a Pod-bound token names its Pod and UID, then it is admitted")
    void podBoundAdmitted() {
      assertThat(gate().admit(Optional.of("Bearer pod-bound-token"))).isEqualTo(ARGO);
    }

    @Test
    @DisplayName("When a Pod-bound token names a Pod without its UID, then it is refused")
    void brokenPodBindingRefused() {
      assertThatThrownBy(() -> gate().admit(Optional.of("Bearer broken-pod-bound-token")))
          .isInstanceOf(PermissionDeniedException.class)
          .hasMessageContaining("Pod binding is incomplete");
    }
  }
}
