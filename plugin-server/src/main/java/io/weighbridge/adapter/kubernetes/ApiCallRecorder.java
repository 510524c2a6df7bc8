package io.weighbridge.adapter.kubernetes;

/**
 * Learns of every request the Kubernetes adapter sends to the API server itself, outside the
 * informers' list/watch streams. Benchmarks and metrics use it to prove that reads come from the
 * cache and that unchanged routes cost no write.
 */
@FunctionalInterface
public interface ApiCallRecorder {

  /** The kind of request. The adapter never LISTs outside its informers. */
  enum Verb {
    /** A read of one object or of a discovery document. */
    GET,
    /** A write (JSON patch). */
    PATCH
  }

  /**
   * Records one request, whatever its outcome.
   *
   * @param verb what was sent
   * @param resource the plural resource name (e.g. {@code httproutes}, {@code services}) or {@code
   *     discovery}
   */
  void record(Verb verb, String resource);

  /** A recorder that drops everything. */
  static ApiCallRecorder none() {
    return (verb, resource) -> {};
  }
}
