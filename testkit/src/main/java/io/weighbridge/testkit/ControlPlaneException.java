package io.weighbridge.testkit;

/**
 * The test control plane could not be built, started, reached or set up; the message says how to
 * fix it.
 */
public final class ControlPlaneException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception whose message says what failed and what to do about it. */
  public ControlPlaneException(String message) {
    super(message);
  }

  /**
   * Creates an exception whose message says what failed and what to do about it, with its cause.
   */
  public ControlPlaneException(String message, Throwable cause) {
    super(message, cause);
  }
}
