package io.weighbridge.domain;

/** A caller proved who it is, but that identity is not allowed to call plugin-server. */
public final class PermissionDeniedException extends WeighbridgeException {

  /** Creates the exception with an operator-facing message. */
  public PermissionDeniedException(String message) {
    super(message);
  }
}
