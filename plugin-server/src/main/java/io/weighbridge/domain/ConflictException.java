package io.weighbridge.domain;

/** A write kept conflicting with concurrent writers and did not succeed within the retry bound. */
public final class ConflictException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public ConflictException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public ConflictException(String message, Throwable cause) {
    super(message, cause);
  }
}
