package io.weighbridge.adapter.kubernetes;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Thread-safe in-memory counts of the adapter's API requests, for benchmarks and tests. */
public final class ApiCallCounter implements ApiCallRecorder {

  private final Map<Verb, Map<String, LongAdder>> counts = new ConcurrentHashMap<>();

  @Override
  public void record(Verb verb, String resource, int code) {
    counts
        .computeIfAbsent(verb, v -> new ConcurrentHashMap<>())
        .computeIfAbsent(resource, r -> new LongAdder())
        .increment();
  }

  /** Requests of {@code verb} on {@code resource} so far. */
  public long count(Verb verb, String resource) {
    LongAdder adder = counts.getOrDefault(verb, Map.of()).get(resource);
    return adder == null ? 0 : adder.sum();
  }

  /** Requests of {@code verb} on any resource so far. */
  public long count(Verb verb) {
    return counts.getOrDefault(verb, Map.of()).values().stream().mapToLong(LongAdder::sum).sum();
  }

  /** All single-object reads (GETs, including discovery; not informer lists/watches) so far. */
  public long reads() {
    return count(Verb.GET);
  }

  /** All writes (PATCHes) so far. */
  public long writes() {
    return count(Verb.PATCH);
  }

  /** Reads plus writes. */
  public long total() {
    return reads() + writes();
  }
}
