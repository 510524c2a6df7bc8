package io.weighbridge.domain;

/** A configured route, Service or other object does not exist. */
public final class NotFoundException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public NotFoundException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public NotFoundException(String message, Throwable cause) {
    super(message, cause);
  }
}
