package io.weighbridge.adapter.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.weighbridge.domain.auth.AuthMetrics;
import java.util.EnumMap;
import java.util.Map;

/**
 * Refused calls as {@code weighbridge_auth_refused_total{reason}}; every reason is registered at
 * zero up front so alerts see zeros rather than gaps.
 */
public final class MicrometerAuthMetrics implements AuthMetrics {

  /** Calls refused by authentication or authorization. */
  public static final String REFUSED = "weighbridge.auth.refused";

  private final Map<Refusal, Counter> counters = new EnumMap<>(Refusal.class);

  /** Registers the counters in {@code registry}. */
  public MicrometerAuthMetrics(MeterRegistry registry) {
    for (Refusal reason : Refusal.values()) {
      counters.put(
          reason,
          Counter.builder(REFUSED)
              .description(
                  "gRPC calls refused because their bearer token was missing, invalid, not"
                      + " allowed, or could not be checked")
              .tag("reason", reason.label())
              .register(registry));
    }
  }

  @Override
  public void refused(Refusal reason) {
    counters.get(reason).increment();
  }
}
