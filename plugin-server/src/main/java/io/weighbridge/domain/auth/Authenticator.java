package io.weighbridge.domain.auth;

/**
 * Verifies a bearer token with the party that issued it (in a cluster: a Kubernetes TokenReview).
 * Implementations must never log or keep the token.
 */
public interface Authenticator {

  /**
   * Who the token belongs to.
   *
   * @throws io.weighbridge.domain.UnauthenticatedException when the token is not valid (expired,
   *     revoked, for another audience), with the issuer's reason
   * @throws io.weighbridge.domain.UnavailableException when the token cannot be checked now (the
   *     issuer is unreachable, or plugin-server may not ask it)
   */
  Identity authenticate(String token);
}
