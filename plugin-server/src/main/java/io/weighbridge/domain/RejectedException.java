package io.weighbridge.domain;

/**
 * The cluster refused a change, e.g. an admission webhook or validation; the message carries its
 * words verbatim.
 */
public final class RejectedException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public RejectedException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public RejectedException(String message, Throwable cause) {
    super(message, cause);
  }
}
