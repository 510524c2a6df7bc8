package io.weighbridge.domain.auth;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Who a verified bearer token belongs to, as the cluster says.
 *
 * @param username the Kubernetes user name, e.g. {@code
 *     system:serviceaccount:argo-rollouts:argo-rollouts}
 * @param groups the user's groups
 * @param extra the authenticator's extra claims, e.g. the Pod a bound token belongs to
 */
public record Identity(String username, List<String> groups, Map<String, List<String>> extra) {

  /** The group of every ServiceAccount's tokens. */
  public static final String SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts";

  /** The claim naming the Pod a Pod-bound ServiceAccount token was issued for. */
  public static final String POD_NAME = "authentication.kubernetes.io/pod-name";

  /** The claim holding that Pod's UID. */
  public static final String POD_UID = "authentication.kubernetes.io/pod-uid";

  /** Copies groups and claims. */
  public Identity {
    Objects.requireNonNull(username, "username");
    groups = List.copyOf(groups);
    extra = Map.copyOf(extra);
  }

  /** An identity without extra claims. */
  public Identity(String username, List<String> groups) {
    this(username, groups, Map.of());
  }

  /**
   * The ServiceAccount this identity is: its name says so, it is in the groups the API server gives
   * every ServiceAccount token ({@code system:serviceaccounts} and {@code
   * system:serviceaccounts:<namespace>}), and Pod-bound claims, where present, are whole.
   */
  public Optional<ServiceAccount> serviceAccount() {
    return notAServiceAccount().isPresent()
        ? Optional.empty()
        : ServiceAccount.fromUsername(username);
  }

  /** Why this identity is not a ServiceAccount (for messages), or empty when it is one. */
  public Optional<String> notAServiceAccount() {
    Optional<ServiceAccount> named = ServiceAccount.fromUsername(username);
    if (named.isEmpty()) {
      return Optional.of("not a service account");
    }
    List<String> missing =
        Stream.of(SERVICE_ACCOUNTS_GROUP, SERVICE_ACCOUNTS_GROUP + ":" + named.get().namespace())
            .filter(group -> !groups.contains(group))
            .toList();
    if (!missing.isEmpty()) {
      return Optional.of(
          "named like a service account but not in its group(s) "
              + String.join(", ", missing)
              + ", which the API server gives every service-account token: another"
              + " authenticator (a static token, a webhook or OIDC) named it so");
    }
    boolean podBound = extra.containsKey(POD_NAME) || extra.containsKey(POD_UID);
    if (podBound && (!single(extra.get(POD_NAME)) || !single(extra.get(POD_UID)))) {
      return Optional.of(
          "a service-account token whose Pod binding is incomplete ("
              + POD_NAME
              + " and "
              + POD_UID
              + " must each hold one value)");
    }
    return Optional.empty();
  }

  private static boolean single(List<String> values) {
    return values != null && values.size() == 1 && !values.getFirst().isBlank();
  }
}
