package io.weighbridge.domain.routing;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the routes of Rollouts whose canary is in progress and, when a route changes, asks for
 * the Rollout's defended state to be re-applied (which writes nothing when the change did not touch
 * it). Events whose resourceVersion is the answer to our own last PATCH are ignored outright. Argo
 * only reconciles every few minutes when idle, while a GitOps sync can reset weights at any time;
 * this closes that gap the way Argo's Istio router does.
 *
 * <p>Lifecycle: {@link #watch} when a SetWeight leaves a canary in progress (weight > 0,
 * experiments or managed rules present), {@link #unwatch} when a SetWeight finds it finished
 * (weight 0, nothing managed) or the Rollout went idle. Restorations of one route are coalesced and
 * spaced by a minimum interval, so a tool fighting over the weights cannot make us write in a loop.
 */
final class DriftGuard implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DriftGuard.class);

  /** Re-applies a Rollout's desired state to one route; serialized with Argo's calls. */
  @FunctionalInterface
  interface Restorer {
    /**
     * Re-applies; called on the guard's executor.
     *
     * @return whether it wrote, i.e. found drift to repair
     */
    boolean restore(String rolloutKey, RouteId route);
  }

  private record Key(String rolloutKey, RouteId route) {}

  private final RouteClient client;
  private final ScheduledExecutorService executor;
  private final Duration minInterval;
  private final Restorer restorer;
  private final Predicate<ObservedRoute> ownWrite;
  private final Map<String, Map<RouteId, AutoCloseable>> watches = new HashMap<>();
  private final Map<Key, Long> due = new ConcurrentHashMap<>();
  private final Map<Key, Long> lastRun = new ConcurrentHashMap<>();

  DriftGuard(
      RouteClient client,
      ScheduledExecutorService executor,
      Duration minInterval,
      Restorer restorer,
      Predicate<ObservedRoute> ownWrite) {
    this.client = client;
    this.executor = executor;
    this.minInterval = minInterval;
    this.restorer = restorer;
    this.ownWrite = ownWrite;
  }

  /** Watches exactly {@code routes} for the Rollout (opening and closing watches as needed). */
  synchronized void watch(String rolloutKey, Set<RouteId> routes) {
    Map<RouteId, AutoCloseable> current = watches.computeIfAbsent(rolloutKey, k -> new HashMap<>());
    current
        .entrySet()
        .removeIf(
            e -> {
              if (!routes.contains(e.getKey())) {
                closeQuietly(e.getValue());
                return true;
              }
              return false;
            });
    for (RouteId id : routes) {
      // Argo just set this route's state: a change after it is a new drift, not a fight to space
      // out.
      lastRun.remove(new Key(rolloutKey, id));
      if (!current.containsKey(id)) {
        Key key = new Key(rolloutKey, id);
        // Our own write coming back (same resourceVersion as our PATCH's answer) is not drift.
        current.put(
            id,
            client.watch(
                id,
                changed -> {
                  if (!ownWrite.test(changed)) {
                    schedule(key);
                  }
                }));
        LOG.debug("watching {} for drift while Rollout {} is in progress", id, rolloutKey);
      }
    }
  }

  /** Stops watching the Rollout's routes. */
  synchronized void unwatch(String rolloutKey) {
    Map<RouteId, AutoCloseable> current = watches.remove(rolloutKey);
    if (current != null) {
      current.values().forEach(DriftGuard::closeQuietly);
      current.keySet().forEach(id -> lastRun.remove(new Key(rolloutKey, id)));
      LOG.debug("stopped watching routes of Rollout {}", rolloutKey);
    }
  }

  /** Checks every watched route of the Rollout soon, as if each had changed. */
  void recheck(String rolloutKey) {
    for (RouteId id : watched(rolloutKey)) {
      schedule(new Key(rolloutKey, id));
    }
  }

  /** The routes watched for the Rollout. */
  synchronized Set<RouteId> watched(String rolloutKey) {
    return Set.copyOf(watches.getOrDefault(rolloutKey, Map.of()).keySet());
  }

  private void schedule(Key key) {
    long now = System.nanoTime();
    Long last = lastRun.get(key);
    long at = last == null ? now : Math.max(now, last + minInterval.toNanos());
    boolean[] sooner = {false};
    // One pending check per route, but never a later one than this change needs: a check delayed
    // by the spacing interval must not hold back a change that may be checked at once (e.g. after
    // Argo set the route again).
    due.compute(
        key,
        (k, pendingAt) -> {
          if (pendingAt != null && pendingAt <= at) {
            return pendingAt; // the pending check reads the newest state anyway
          }
          sooner[0] = true;
          return at;
        });
    if (!sooner[0]) {
      return;
    }
    try {
      executor.schedule(() -> run(key, at), at - now, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      due.remove(key, at);
    }
  }

  private void run(Key key, long at) {
    if (!due.remove(key, at)) {
      return; // superseded by a sooner check
    }
    synchronized (this) {
      if (!watches.getOrDefault(key.rolloutKey(), Map.of()).containsKey(key.route())) {
        return;
      }
    }
    try {
      // Only a real restoration starts the spacing interval: the watch event of our own write, or
      // of a change that left our state alone, must not delay repairing a drift right after it.
      if (restorer.restore(key.rolloutKey(), key.route())) {
        lastRun.put(key, System.nanoTime());
      }
    } catch (RuntimeException e) {
      lastRun.put(key, System.nanoTime()); // a failed write was an attempt too: keep the spacing
      LOG.warn(
          "could not restore the weights of Rollout {} on {}: {}",
          key.rolloutKey(),
          key.route(),
          e.getMessage());
    }
  }

  @Override
  public synchronized void close() {
    for (String rolloutKey : Set.copyOf(watches.keySet())) {
      unwatch(rolloutKey);
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      LOG.debug("closing a route watch failed", e);
    }
  }
}
