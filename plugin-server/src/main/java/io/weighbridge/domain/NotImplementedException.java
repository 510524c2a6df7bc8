package io.weighbridge.domain;

/** The call is not supported (yet); never answered with a fake success. */
public final class NotImplementedException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public NotImplementedException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public NotImplementedException(String message, Throwable cause) {
    super(message, cause);
  }
}
