package io.weighbridge.adapter.kubernetes;

/**
 * Learns of every request the plugin-server sends to the Kubernetes API server, where it happens:
 * {@link ApiCallInterceptor} on the fabric8 HTTP client calls it once per HTTP exchange (retries
 * and informer list/watch included), so that no call site can forget one. Benchmarks and metrics
 * use it to prove that reads come from the cache and that unchanged routes cost no request.
 */
@FunctionalInterface
public interface ApiCallRecorder {

  /** The kind of request, as the API server's audit log names it. */
  enum Verb {
    /** A read of one object, a subresource or a discovery document. */
    GET,
    /** A read of a collection (an informer's list). */
    LIST,
    /** A watch stream (an informer's watch). */
    WATCH,
    /** A patch (JSON patch for routes). */
    PATCH,
    /** A create (POST): Events, TokenReviews, Leases. */
    CREATE,
    /** A full replace (PUT): Leases. */
    UPDATE,
    /** A delete. */
    DELETE
  }

  /**
   * Records one request, whatever its outcome.
   *
   * @param verb what was sent
   * @param resource the plural resource name (e.g. {@code httproutes}, {@code services}), with
   *     {@code /subresource} when there is one, or {@code discovery}
   * @param code the HTTP status, or 0 when no answer came (connection failure)
   */
  void record(Verb verb, String resource, int code);

  /** A recorder that drops everything. */
  static ApiCallRecorder none() {
    return (verb, resource, code) -> {};
  }
}
