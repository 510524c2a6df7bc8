package io.weighbridge.adapter.grpc;

import io.grpc.Status;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.PermissionDeniedException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses. Domain messages pass through unchanged: they
 * are written for the operator who reads them in the Rollout's events. Anything that is not a
 * {@link WeighbridgeException} is a bug and becomes INTERNAL, with its stack trace in the log.
 */
public final class StatusMapper {
  private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

  /** The status that answers a call that failed with {@code failure}. */
  public Status toStatus(Throwable failure) {
    if (failure instanceof WeighbridgeException known) {
      return Status.fromCode(code(known)).withDescription(known.getMessage()).withCause(known);
    }
    log.error("internal error in plugin-server, please report it", failure);
    return Status.INTERNAL
        .withDescription(
            "internal error in plugin-server: "
                + failure.getClass().getName()
                + ": "
                + failure.getMessage()
                + "; please report it")
        .withCause(failure);
  }

  /**
   * The code of a domain failure; exhaustive over the sealed hierarchy, so a new kind must be
   * added.
   */
  static Status.Code code(WeighbridgeException failure) {
    return switch (failure) {
      case InvalidConfigException e -> Status.Code.INVALID_ARGUMENT;
      case NotFoundException e -> Status.Code.NOT_FOUND;
      case RejectedException e -> Status.Code.FAILED_PRECONDITION;
      case ConflictException e -> Status.Code.ABORTED;
      case UnavailableException e -> Status.Code.UNAVAILABLE;
      case DeadlineException e -> Status.Code.DEADLINE_EXCEEDED;
      case NotImplementedException e -> Status.Code.UNIMPLEMENTED;
      case UnauthenticatedException e -> Status.Code.UNAUTHENTICATED;
      case PermissionDeniedException e -> Status.Code.PERMISSION_DENIED;
      // A partial failure without a cause is a bug in whoever built it: report it as internal.
      case PartialFailureException e ->
          e.firstFailure() == null ? Status.Code.INTERNAL : code(e.firstFailure());
    };
  }
}
