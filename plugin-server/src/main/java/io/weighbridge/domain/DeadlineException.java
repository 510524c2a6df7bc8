package io.weighbridge.domain;

/** A call did not finish within its time bound. */
public final class DeadlineException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public DeadlineException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public DeadlineException(String message, Throwable cause) {
    super(message, cause);
  }
}
