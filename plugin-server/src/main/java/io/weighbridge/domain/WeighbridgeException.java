package io.weighbridge.domain;

/**
 * The root of every failure Weighbridge reports to Argo. Messages are read by operators in Rollout
 * events: each says what is wrong and what to do about it. The gRPC adapter maps each subclass to
 * one status code in one place; any other exception is reported as an internal error.
 */
public abstract sealed class WeighbridgeException extends RuntimeException
    permits InvalidConfigException,
        NotFoundException,
        RejectedException,
        ConflictException,
        UnavailableException,
        DeadlineException,
        NotImplementedException,
        PartialFailureException,
        UnauthenticatedException,
        PermissionDeniedException {

  /** Creates the exception with an operator-facing message. */
  protected WeighbridgeException(String message) {
    super(message);
  }

  /** Creates the exception with an operator-facing message and its cause. */
  protected WeighbridgeException(String message, Throwable cause) {
    super(message, cause);
  }
}
