package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.auth.Authenticator;
import io.weighbridge.domain.auth.Identity;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Verifies bearer tokens with a Kubernetes TokenReview ({@code authentication.k8s.io/v1}): the API
 * server checks signature, expiry, audience and that the ServiceAccount (and, for bound tokens, its
 * Pod) still exists. Needs {@code tokenreviews create} (cluster-scoped) for plugin-server's own
 * ServiceAccount. Never logs the token. The answer's user, groups and extra claims (a Pod-bound
 * token's Pod) become the {@link Identity} that {@link io.weighbridge.domain.auth.CallerGate}
 * judges.
 */
public final class TokenReviewAuthenticator implements Authenticator {

  private final KubernetesClient client;
  private final List<String> audiences;

  /**
   * @param client plugin-server's client (its identity creates the TokenReviews)
   * @param audiences the audiences the token must carry one of; empty means the API server's own,
   *     which the default (automounted) ServiceAccount token carries
   */
  public TokenReviewAuthenticator(KubernetesClient client, List<String> audiences) {
    this.client = Objects.requireNonNull(client, "client");
    this.audiences = List.copyOf(audiences);
  }

  @Override
  public Identity authenticate(String token) {
    TokenReview request =
        new TokenReviewBuilder()
            .withNewSpec()
            .withToken(token)
            .withAudiences(audiences.isEmpty() ? null : audiences)
            .endSpec()
            .build();
    TokenReview answer;
    try {
      answer = client.authentication().v1().tokenReviews().create(request);
    } catch (KubernetesClientException e) {
      throw failed(e);
    }
    TokenReviewStatus status = answer == null ? null : answer.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      String reason =
          status == null || status.getError() == null || status.getError().isBlank()
              ? "no reason given"
              : status.getError();
      throw new UnauthenticatedException(
          "the cluster's TokenReview did not accept the connector's bearer token ("
              + reason
              + "): it is expired, revoked, from another cluster"
              + (audiences.isEmpty()
                  ? ""
                  : ", or not issued for the audience " + String.join(" or ", audiences))
              + "; point the connector's --token-file at the controller pod's current"
              + " service-account token"
              + (audiences.isEmpty()
                  ? ""
                  : " (a projected token with audience " + audiences.getFirst() + ")"));
    }
    UserInfo user = status.getUser();
    if (user == null || user.getUsername() == null || user.getUsername().isBlank()) {
      throw new UnauthenticatedException(
          "the cluster's TokenReview accepted the connector's bearer token but named no user;"
              + " use a service-account token");
    }
    return new Identity(
        user.getUsername(),
        user.getGroups() == null ? List.of() : user.getGroups(),
        user.getExtra() == null ? Map.of() : user.getExtra());
  }

  private UnavailableException failed(KubernetesClientException e) {
    int code = e.getCode();
    if (code == 403) {
      return new UnavailableException(
          "plugin-server may not verify the connector's token: its own identity lacks permission"
              + " to create tokenreviews.authentication.k8s.io; grant it (the chart does with"
              + " rbac.tokenReview=true) or run plugin-server with --auth-mode=none",
          e);
    }
    if (code == 401) {
      return new UnavailableException(
          "plugin-server cannot verify the connector's token: the API server does not accept"
              + " plugin-server's own credentials (401); check its ServiceAccount or --kubeconfig",
          e);
    }
    return new UnavailableException(
        "plugin-server cannot verify the connector's token with a TokenReview now ("
            + (code > 0 ? "HTTP " + code + ": " : "")
            + e.getMessage()
            + "); Argo retries; if this persists check that plugin-server reaches the API server",
        e);
  }
}
