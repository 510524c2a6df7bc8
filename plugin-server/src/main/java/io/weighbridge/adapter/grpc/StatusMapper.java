package io.weighbridge.adapter.grpc;

import io.grpc.Status;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.Echo;
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
 *
 * <p>Every description is bounded ({@value #MAX_DESCRIPTION} characters): Argo copies it into the
 * Rollout's Events and its log on every reconcile. A longer one keeps its start and its closing
 * advice; a long partial failure is summarised from its lists (the first few routes of each).
 */
public final class StatusMapper {
  private static final Logger log = LoggerFactory.getLogger(StatusMapper.class);

  /** The longest description sent; Kubernetes Events hold about 1 KiB more. */
  static final int MAX_DESCRIPTION = 4000;

  /** The status that answers a call that failed with {@code failure}. */
  public Status toStatus(Throwable failure) {
    if (failure instanceof WeighbridgeException known) {
      return Status.fromCode(code(known)).withDescription(description(known)).withCause(known);
    }
    log.error("internal error in plugin-server, please report it", failure);
    return Status.INTERNAL
        .withDescription(
            "internal error in plugin-server: "
                + failure.getClass().getName()
                + ": "
                + Echo.cut(String.valueOf(failure.getMessage()), MAX_DESCRIPTION / 2)
                + "; please report it")
        .withCause(failure);
  }

  /** The failure's message, bounded; a long partial failure summarised from its lists. */
  static String description(WeighbridgeException failure) {
    String message = failure.getMessage();
    if (message == null || message.length() <= MAX_DESCRIPTION) {
      return message;
    }
    if (failure instanceof PartialFailureException partial && partial.firstFailure() != null) {
      int total = partial.succeeded().size() + partial.failed().size();
      return Echo.cut(
          "updated "
              + (partial.succeeded().isEmpty() ? "no route" : Echo.list(partial.succeeded(), ", "))
              + " but failed on "
              + partial.failed().size()
              + " of "
              + total
              + " routes ("
              + Echo.list(partial.failed(), ", ")
              + "); the first failure: "
              + Echo.cut(partial.firstFailure().getMessage(), MAX_DESCRIPTION / 2),
          MAX_DESCRIPTION);
    }
    return Echo.cut(message, MAX_DESCRIPTION);
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
