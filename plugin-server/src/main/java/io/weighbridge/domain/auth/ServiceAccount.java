package io.weighbridge.domain.auth;

import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A Kubernetes ServiceAccount, {@code namespace:name} in flags, {@code
 * system:serviceaccount:<namespace>:<name>} as the API server names its tokens' user.
 *
 * @param namespace the ServiceAccount's namespace
 * @param name the ServiceAccount's name
 */
public record ServiceAccount(String namespace, String name) {

  /** Kubernetes' rule for namespace and ServiceAccount names (DNS-1123 subdomain). */
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");

  private static final String USER_PREFIX = "system:serviceaccount:";

  /** Rejects names Kubernetes would not accept. */
  public ServiceAccount {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    if (!valid(namespace) || !valid(name)) {
      throw new IllegalArgumentException(
          "'"
              + namespace
              + ":"
              + name
              + "' is not a ServiceAccount: namespace and name must be lower-case DNS names such as"
              + " argo-rollouts:argo-rollouts");
    }
  }

  private static boolean valid(String part) {
    return part.length() <= 253 && DNS_SUBDOMAIN.matcher(part).matches();
  }

  /**
   * Reads {@code namespace:name}.
   *
   * @throws IllegalArgumentException naming the expected form
   */
  public static ServiceAccount parse(String text) {
    String value = text.trim();
    int colon = value.indexOf(':');
    if (colon < 0 || value.indexOf(':', colon + 1) >= 0) {
      throw new IllegalArgumentException(
          "'" + text + "' is not <namespace>:<name>, e.g. argo-rollouts:argo-rollouts");
    }
    return new ServiceAccount(value.substring(0, colon), value.substring(colon + 1));
  }

  /** The ServiceAccount a Kubernetes user name stands for, if it is one. */
  public static Optional<ServiceAccount> fromUsername(String username) {
    if (!username.startsWith(USER_PREFIX)) {
      return Optional.empty();
    }
    try {
      return Optional.of(parse(username.substring(USER_PREFIX.length())));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** The user name the API server gives this ServiceAccount's tokens. */
  public String username() {
    return USER_PREFIX + namespace + ":" + name;
  }

  /** {@code namespace:name}, the form the flag takes. */
  @Override
  public String toString() {
    return namespace + ":" + name;
  }
}
