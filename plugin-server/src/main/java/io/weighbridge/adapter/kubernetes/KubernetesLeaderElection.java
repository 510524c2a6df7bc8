package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.weighbridge.domain.analysis.Leadership;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leader election among plugin-server replicas with a coordination.k8s.io Lease, by fabric8's
 * {@link LeaderElector}: only the holder analyses and acts. A replica that loses the lease (or
 * never had it) keeps contending, so another replica takes over within about the lease duration
 * when the leader dies; the lease is released on {@link #close()} so a rolling update hands over at
 * once.
 */
public final class KubernetesLeaderElection implements Leadership, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesLeaderElection.class);

  /** The Lease's name (fixed: replicas of one installation share it). */
  public static final String LEASE_NAME = "weighbridge-analyzer";

  /**
   * Lease timing.
   *
   * @param leaseDuration how long a lease is valid without renewal (takeover time after a crash)
   * @param renewDeadline how long the leader keeps trying to renew before it gives up leading
   * @param retryPeriod how often candidates try and the leader renews
   */
  public record Timing(Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {

    /** client-go's usual 15 s / 10 s / 2 s. */
    public static Timing defaults() {
      return new Timing(Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2));
    }
  }

  private final KubernetesClient client;
  private final String namespace;
  private final String identity;
  private final Timing timing;
  private final Consumer<Boolean> onChange;
  private final ExecutorService executor =
      Executors.newCachedThreadPool(
          r -> Thread.ofPlatform().name("weighbridge-leader-election").daemon().unstarted(r));
  private volatile boolean leader;
  private volatile boolean closed;
  private volatile CompletableFuture<?> running;

  /**
   * Creates the election; {@link #start()} begins contending.
   *
   * @param namespace where the Lease lives
   * @param identity this replica's name (the Pod name), written as the Lease's holderIdentity
   * @param onChange told true when this replica starts leading and false when it stops
   */
  public KubernetesLeaderElection(
      KubernetesClient client,
      String namespace,
      String identity,
      Timing timing,
      Consumer<Boolean> onChange) {
    this.client = client;
    this.namespace = namespace;
    this.identity = identity;
    this.timing = timing;
    this.onChange = onChange;
  }

  /** Begins contending for the lease in the background. */
  public synchronized void start() {
    if (running != null || closed) {
      return;
    }
    contend();
  }

  private synchronized void contend() {
    if (closed) {
      return;
    }
    LeaderElector elector =
        new LeaderElector(
            client,
            new LeaderElectionConfigBuilder()
                .withName(LEASE_NAME)
                .withLock(new LeaseLock(namespace, LEASE_NAME, identity))
                .withLeaseDuration(timing.leaseDuration())
                .withRenewDeadline(timing.renewDeadline())
                .withRetryPeriod(timing.retryPeriod())
                .withReleaseOnCancel(true)
                .withLeaderCallbacks(
                    new LeaderCallbacks(
                        () -> changed(true),
                        () -> changed(false),
                        who -> LOG.info("analyzer leader is now {}", who)))
                .build(),
            executor);
    CompletableFuture<?> f = elector.start();
    running = f;
    // The elector returns once leadership is lost (or on an error): contend again unless closed.
    f.whenComplete(
        (ok, error) -> {
          if (error != null && !closed) {
            LOG.warn("leader election stopped: {}; contending again", error.toString());
          }
          if (!closed) {
            // after a pause, so that an elector failing at once cannot spin
            CompletableFuture.delayedExecutor(
                    timing.retryPeriod().toMillis(), TimeUnit.MILLISECONDS, executor)
                .execute(this::contend);
          }
        });
  }

  private void changed(boolean leading) {
    leader = leading;
    LOG.info(
        leading
            ? "{} leads the analyzer (Lease {}/{})"
            : "{} stopped leading the analyzer (Lease {}/{})",
        identity,
        namespace,
        LEASE_NAME);
    onChange.accept(leading);
  }

  @Override
  public boolean isLeader() {
    return leader;
  }

  @Override
  public String identity() {
    return identity;
  }

  /** Stops contending and releases the lease if held. */
  @Override
  public void close() {
    CompletableFuture<?> f;
    synchronized (this) {
      closed = true;
      f = running;
    }
    if (f != null) {
      f.cancel(true);
    }
    leader = false;
    executor.shutdown();
  }
}
