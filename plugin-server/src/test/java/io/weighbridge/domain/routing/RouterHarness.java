package io.weighbridge.domain.routing;

import io.weighbridge.domain.VerifyResult.Verification;
import io.weighbridge.domain.WeighbridgeException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A router on a fake cluster with recording metrics; close it after each test. */
final class RouterHarness implements AutoCloseable {
  final FakeRouteClient cluster;
  final RecordingMetrics metrics = new RecordingMetrics();
  final GatewayApiTrafficRouter router;

  /** The settings of a harness made without any: no spacing between drift restorations. */
  private static final RouterSettings DEFAULTS =
      new RouterSettings(Duration.ofSeconds(5), Duration.ZERO, Duration.ofHours(1), 16);

  RouterHarness() {
    this(DEFAULTS);
  }

  RouterHarness(RouterSettings settings) {
    this(new FakeRouteClient(), settings);
  }

  /** A second router (another plugin-server replica) on the same fake cluster as {@code other}. */
  RouterHarness(RouterHarness other) {
    this(other.cluster, DEFAULTS);
  }

  private RouterHarness(FakeRouteClient cluster, RouterSettings settings) {
    this.cluster = cluster;
    router = new GatewayApiTrafficRouter(cluster, metrics, settings);
  }

  @Override
  public void close() {
    router.close();
  }

  /** Metrics as readable lines, e.g. {@code written HTTPRoute default/shop SET_WEIGHT}. */
  static final class RecordingMetrics implements RoutingMetrics {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void routeWritten(RouteId route, Operation operation) {
      events.add("written " + route + " " + operation);
    }

    @Override
    public void writeSkipped(RouteId route, Operation operation) {
      events.add("skipped " + route + " " + operation);
    }

    @Override
    public void routeFailed(RouteId route, Operation operation, WeighbridgeException failure) {
      events.add("failed " + route + " " + operation);
    }

    @Override
    public void driftRestored(RouteId route) {
      events.add("drift " + route);
    }

    @Override
    public void verifyOutcome(Verification verification, VerifyReason reason) {
      events.add("verify " + verification + " " + reason);
    }

    long count(String prefix) {
      return events.stream().filter(e -> e.startsWith(prefix)).count();
    }
  }
}
