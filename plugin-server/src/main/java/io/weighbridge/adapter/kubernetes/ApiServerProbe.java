package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the API server for its version now and then and exposes the answer as the gauge {@code
 * weighbridge_kubernetes_api_up} (1 reachable, 0 not, NaN before the first answer), logging each
 * change once.
 *
 * <p>Why a metric and not readiness: a plugin-server that reports not ready while the API server is
 * away is taken out of its Service, so Argo's calls fail with "connection refused" instead of the
 * precise UNAVAILABLE error naming the API server, and every replica flaps with the control plane
 * at once. Operators alert on this gauge instead; calls keep failing fast and clearly meanwhile.
 * {@code /version} is readable by every authenticated identity (system:public-info-viewer), so the
 * probe needs no extra RBAC.
 */
public final class ApiServerProbe implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ApiServerProbe.class);

  /** The gauge's name. */
  public static final String METER = "weighbridge.kubernetes.api.up";

  private final KubernetesClient client;
  private final Duration interval;
  private final ScheduledExecutorService executor;
  private volatile double up = Double.NaN;

  /**
   * Registers the gauge; nothing is sent before {@link #start()}.
   *
   * @param client the client whose API server to probe (the caller owns it)
   * @param registry where the gauge goes
   * @param interval the time between two probes
   */
  public ApiServerProbe(KubernetesClient client, MeterRegistry registry, Duration interval) {
    this.client = Objects.requireNonNull(client, "client");
    this.interval = Objects.requireNonNull(interval, "interval");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive, got " + interval);
    }
    Gauge.builder(METER, this, p -> p.up)
        .description("1 when the Kubernetes API server answered the last probe, 0 when not")
        .register(registry);
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "weighbridge-api-probe");
              t.setDaemon(true);
              return t;
            });
  }

  /** Starts probing in the background at once; returns without waiting for an answer. */
  public void start() {
    executor.scheduleWithFixedDelay(this::probe, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The last answer: 1, 0, or NaN before the first. */
  public double up() {
    return up;
  }

  private void probe() {
    double before = up;
    try {
      String version = client.getKubernetesVersion().getGitVersion();
      up = 1;
      if (before != 1) {
        LOG.info("Kubernetes API server {} reachable ({})", client.getMasterUrl(), version);
      }
    } catch (RuntimeException e) {
      up = 0;
      if (before != 0) {
        LOG.warn(
            "Kubernetes API server {} unreachable: {}; calls fail UNAVAILABLE until it answers",
            client.getMasterUrl(),
            rootCause(e));
      }
    }
  }

  /** fabric8 wraps the useful part ("Connection refused", "x509: ...") in generic messages. */
  private static String rootCause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage() == null ? "" : ": " + root.getMessage();
    return root == e
        ? e.toString()
        : e.getMessage() + " (" + root.getClass().getSimpleName() + message + ")";
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
