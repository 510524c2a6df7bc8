package io.weighbridge.domain;

/**
 * The answer to VerifyWeight.
 *
 * @param verification the verdict
 * @param reason why it is not verified (empty when verified), for logs and events
 */
public record VerifyResult(Verification verification, String reason) {

  /** The weight is in effect. */
  public static VerifyResult verified() {
    return new VerifyResult(Verification.VERIFIED, "");
  }

  /** The weight is not yet in effect, because of {@code reason}. */
  public static VerifyResult notVerified(String reason) {
    return new VerifyResult(Verification.NOT_VERIFIED, reason);
  }

  /** Verification is switched off, because of {@code reason}. */
  public static VerifyResult notImplemented(String reason) {
    return new VerifyResult(Verification.NOT_IMPLEMENTED, reason);
  }

  /** Argo's RpcVerified values. */
  public enum Verification {
    /** Not yet in effect: Argo checks again later. */
    NOT_VERIFIED,
    /** In effect. */
    VERIFIED,
    /** Not checked: Argo proceeds. */
    NOT_IMPLEMENTED
  }
}
