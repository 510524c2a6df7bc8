package io.weighbridge.domain.auth;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Who a verified bearer token belongs to, as the cluster says.
 *
 * @param username the Kubernetes user name, e.g. {@code
 *     system:serviceaccount:argo-rollouts:argo-rollouts}
 * @param groups the user's groups
 */
public record Identity(String username, List<String> groups) {

  /** Copies the groups. */
  public Identity {
    Objects.requireNonNull(username, "username");
    groups = List.copyOf(groups);
  }

  /** The ServiceAccount this identity is, if it is one. */
  public Optional<ServiceAccount> serviceAccount() {
    return ServiceAccount.fromUsername(username);
  }
}
