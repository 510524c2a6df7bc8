package io.weighbridge.adapter.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.domain.routing.RoutingMetrics;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The routing engine's counters in a Micrometer registry. Labels are low-cardinality on purpose
 * (operation, route kind, reason): which route drifted or failed is in the log line the engine
 * writes, not in a label that would grow with the cluster. Every operation/kind/reason series is
 * registered at zero up front so that rates and alerts see zeros rather than gaps. See
 * docs/metrics.md for the names.
 */
public final class MicrometerRoutingMetrics implements RoutingMetrics {

  /** Patches with changes written to routes. */
  public static final String WRITES = "weighbridge.routing.route.writes";

  /** Calls that found a route as desired and wrote nothing. */
  public static final String SKIPPED = "weighbridge.routing.route.writes.skipped";

  /** Failed changes of one route. */
  public static final String FAILURES = "weighbridge.routing.route.failures";

  /** Weights restored after someone else changed them during a canary. */
  public static final String DRIFT = "weighbridge.routing.drift.restorations";

  /** VerifyWeight answers. */
  public static final String VERIFY = "weighbridge.routing.verify";

  private final MeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();

  /** Registers every series at zero in {@code registry}. */
  public MicrometerRoutingMetrics(MeterRegistry registry) {
    this.registry = registry;
    for (Operation operation : Operation.values()) {
      for (var kind : RouteKind.values()) {
        written(operation, kind.kind());
        skipped(operation, kind.kind());
      }
    }
    for (var kind : RouteKind.values()) {
      drift(kind.kind());
    }
    for (VerifyReason reason : VerifyReason.values()) {
      verify(verificationFor(reason), reason);
    }
  }

  @Override
  public void routeWritten(RouteId route, Operation operation) {
    written(operation, route.kind().kind()).increment();
  }

  @Override
  public void writeSkipped(RouteId route, Operation operation) {
    skipped(operation, route.kind().kind()).increment();
  }

  @Override
  public void routeFailed(RouteId route, Operation operation, WeighbridgeException failure) {
    // InvalidConfigException -> invalid_config
    String error =
        failure
            .getClass()
            .getSimpleName()
            .replaceFirst("Exception$", "")
            .replaceAll("([a-z])([A-Z])", "$1_$2");
    counter(
            FAILURES,
            "Failed changes of one route, by operation, route kind and error",
            "operation",
            label(operation),
            "kind",
            route.kind().kind(),
            "error",
            error.toLowerCase(Locale.ROOT))
        .increment();
  }

  @Override
  public void driftRestored(RouteId route) {
    drift(route.kind().kind()).increment();
  }

  @Override
  public void verifyOutcome(Verification verification, VerifyReason reason) {
    verify(verification, reason).increment();
  }

  private Counter written(Operation operation, String kind) {
    return counter(
        WRITES,
        "Patches with changes written to a route, by operation and route kind",
        "operation",
        label(operation),
        "kind",
        kind);
  }

  private Counter skipped(Operation operation, String kind) {
    return counter(
        SKIPPED,
        "Calls that found a route already as desired and sent no request",
        "operation",
        label(operation),
        "kind",
        kind);
  }

  private Counter drift(String kind) {
    return counter(
        DRIFT,
        "Weights someone else changed during a canary that the engine put back",
        "kind",
        kind);
  }

  private Counter verify(Verification verification, VerifyReason reason) {
    return counter(
        VERIFY,
        "VerifyWeight answers by result and reason",
        "result",
        label(verification),
        "reason",
        label(reason));
  }

  /** The result the engine answers with each reason; DISABLED answers "not implemented". */
  private static Verification verificationFor(VerifyReason reason) {
    return switch (reason) {
      case VERIFIED -> Verification.VERIFIED;
      case DISABLED -> Verification.NOT_IMPLEMENTED;
      default -> Verification.NOT_VERIFIED;
    };
  }

  private Counter counter(String name, String description, String... tags) {
    String key = name + String.join("\u0000", tags);
    return counters.computeIfAbsent(
        key, k -> Counter.builder(name).description(description).tags(tags).register(registry));
  }

  private static String label(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT);
  }
}
