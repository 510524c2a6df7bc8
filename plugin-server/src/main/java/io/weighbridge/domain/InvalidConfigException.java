package io.weighbridge.domain;

/**
 * The Rollout's plugin configuration (or a step's arguments) is invalid; the message names the
 * field and the fix.
 */
public final class InvalidConfigException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public InvalidConfigException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  public InvalidConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
