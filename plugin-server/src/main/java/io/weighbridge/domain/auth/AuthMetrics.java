package io.weighbridge.domain.auth;

/** Where the {@link CallerGate} reports refused calls (a Micrometer counter in production). */
public interface AuthMetrics {

  /** Why a call was refused; the names are the metric's {@code reason} label values. */
  enum Refusal {
    /** The call carried no bearer token. */
    MISSING_TOKEN("missing_token"),
    /** The authorization header was not {@code Bearer <token>}. */
    MALFORMED_TOKEN("malformed_token"),
    /** The cluster did not accept the token. */
    INVALID_TOKEN("invalid_token"),
    /** The token is valid but its identity is not an allowed ServiceAccount. */
    NOT_ALLOWED("not_allowed"),
    /** The token could not be checked (API server unreachable, RBAC missing). */
    REVIEW_FAILED("review_failed");

    private final String label;

    Refusal(String label) {
      this.label = label;
    }

    /** The metric label value. */
    public String label() {
      return label;
    }
  }

  /** Counts one refused call. */
  void refused(Refusal reason);

  /** Metrics that go nowhere, for tests. */
  static AuthMetrics noop() {
    return reason -> {};
  }
}
