package io.weighbridge.adapter.kubernetes;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts the adapter's API requests as {@code weighbridge_kubernetes_api_requests_total{verb,
 * resource, code}} in a Micrometer registry.
 */
public final class MicrometerApiCallRecorder implements ApiCallRecorder {

  /** The meter name (Prometheus adds {@code _total}). */
  public static final String METER = "weighbridge.kubernetes.api.requests";

  private final MeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();

  /** Registers counters in {@code registry} as requests happen. */
  public MicrometerApiCallRecorder(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void record(Verb verb, String resource, int code) {
    String status = code == 0 ? "none" : Integer.toString(code);
    counters
        .computeIfAbsent(
            verb.name() + ' ' + resource + ' ' + status,
            k ->
                Counter.builder(METER)
                    .description(
                        "Requests sent to the Kubernetes API server, by verb, resource and HTTP"
                            + " status (none: no answer)")
                    .tag("verb", verb.name())
                    .tag("resource", resource)
                    .tag("code", status)
                    .register(registry))
        .increment();
  }
}
