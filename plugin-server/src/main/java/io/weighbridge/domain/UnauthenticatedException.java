package io.weighbridge.domain;

/**
 * A call carried no credentials, or credentials that could not be verified (expired, revoked, for
 * another audience or another cluster).
 */
public final class UnauthenticatedException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public UnauthenticatedException(String message) {
    super(message);
  }
}
