package io.weighbridge.domain;

import java.util.List;

/**
 * A call that changed some routes and failed on others. The message lists both, so that an operator
 * knows which routes carry the new state; {@link #getCause()} is the first failure and decides the
 * status code.
 */
public final class PartialFailureException extends WeighbridgeException {
  private final List<String> succeeded;
  private final List<String> failed;

  /**
   * Creates the exception.
   *
   * @param message operator-facing summary naming updated and failed routes
   * @param succeeded the routes that were updated (or needed no change)
   * @param failed the routes that failed
   * @param firstFailure the first failure
   */
  public PartialFailureException(
      String message,
      List<String> succeeded,
      List<String> failed,
      WeighbridgeException firstFailure) {
    super(message, firstFailure);
    this.succeeded = List.copyOf(succeeded);
    this.failed = List.copyOf(failed);
  }

  /** The routes that were updated (or needed no change). */
  public List<String> succeeded() {
    return succeeded;
  }

  /** The routes that failed. */
  public List<String> failed() {
    return failed;
  }

  /** The first failure, which decides the status code. */
  public WeighbridgeException firstFailure() {
    return (WeighbridgeException) getCause();
  }
}
