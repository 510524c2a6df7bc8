package io.weighbridge.adapter.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import io.weighbridge.domain.routing.RoutingMetrics.Operation;
import io.weighbridge.domain.routing.RoutingMetrics.VerifyReason;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class MicrometerRoutingMetricsTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final MicrometerRoutingMetrics metrics = new MicrometerRoutingMetrics(registry);
  private final RouteId route = new RouteId(RouteKind.GRPC, "ns", "r");

  private double count(String name, String... tags) {
    return registry.get(name).tags(tags).counter().count();
  }

  @Test
  @DisplayName("When nothing happened yet, then every operation, kind and reason reads 0")
  void preRegistered() {
    assertThat(
            count(
                MicrometerRoutingMetrics.WRITES, "operation", "drift_restore", "kind", "TLSRoute"))
        .isZero();
    assertThat(
            count(MicrometerRoutingMetrics.SKIPPED, "operation", "set_weight", "kind", "HTTPRoute"))
        .isZero();
    assertThat(count(MicrometerRoutingMetrics.DRIFT, "kind", "TCPRoute")).isZero();
    assertThat(
            count(
                MicrometerRoutingMetrics.VERIFY, "result", "not_implemented", "reason", "disabled"))
        .isZero();
    assertThat(
            count(
                MicrometerRoutingMetrics.VERIFY,
                "result",
                "not_verified",
                "reason",
                "stale_generation"))
        .isZero();
  }

  @Test
  @DisplayName("When the engine reports events, then the matching series count them")
  void counts() {
    metrics.routeWritten(route, Operation.SET_WEIGHT);
    metrics.routeWritten(route, Operation.SET_WEIGHT);
    metrics.writeSkipped(route, Operation.SET_HEADER_ROUTE);
    metrics.driftRestored(route);
    metrics.verifyOutcome(Verification.NOT_VERIFIED, VerifyReason.NOT_ACCEPTED);
    metrics.routeFailed(route, Operation.SET_MIRROR_ROUTE, new InvalidConfigException("bad"));

    assertThat(
            count(MicrometerRoutingMetrics.WRITES, "operation", "set_weight", "kind", "GRPCRoute"))
        .isEqualTo(2);
    assertThat(
            count(
                MicrometerRoutingMetrics.SKIPPED,
                "operation",
                "set_header_route",
                "kind",
                "GRPCRoute"))
        .isEqualTo(1);
    assertThat(count(MicrometerRoutingMetrics.DRIFT, "kind", "GRPCRoute")).isEqualTo(1);
    assertThat(
            count(
                MicrometerRoutingMetrics.VERIFY,
                "result",
                "not_verified",
                "reason",
                "not_accepted"))
        .isEqualTo(1);
    assertThat(
            count(
                MicrometerRoutingMetrics.FAILURES,
                "operation",
                "set_mirror_route",
                "kind",
                "GRPCRoute",
                "error",
                "invalid_config"))
        .isEqualTo(1);
  }
}
