package io.weighbridge.domain;

/** A dependency (the Kubernetes API, Prometheus) cannot be reached right now; retrying may help. */
public final class UnavailableException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public UnavailableException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public UnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
