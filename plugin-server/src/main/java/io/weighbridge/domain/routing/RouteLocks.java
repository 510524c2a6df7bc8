package io.weighbridge.domain.routing;

import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.UnavailableException;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Serializes changes to one route (Argo's workers and drift restoration call concurrently) while
 * calls on different routes run in parallel. A thread holds at most one route lock at a time (a
 * call that writes several routes at once does so on several threads, one route each), so there is
 * no lock order to get wrong and no deadlock; every wait is bounded.
 */
final class RouteLocks {
  private final ConcurrentHashMap<RouteId, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final Duration timeout;

  RouteLocks(Duration timeout) {
    this.timeout = timeout;
  }

  /**
   * Runs {@code body} while holding the route's lock.
   *
   * @throws DeadlineException when the lock is not free within the timeout
   */
  <T> T withLock(RouteId id, Supplier<T> body) {
    ReentrantLock lock = locks.computeIfAbsent(id, k -> new ReentrantLock(true));
    boolean acquired;
    try {
      acquired = lock.tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnavailableException(
          "interrupted while waiting to change " + id + " (plugin-server is shutting down)", e);
    }
    if (!acquired) {
      throw new DeadlineException(
          "another call has been changing "
              + id
              + " for more than "
              + (timeout.toMillis() < 1000
                  ? timeout.toMillis() + " ms"
                  : timeout.toSeconds() + " s")
              + " (the Kubernetes API may be slow): Argo retries the call; if this persists,"
              + " check plugin-server's connection to the API server");
    }
    try {
      return body.get();
    } finally {
      lock.unlock();
    }
  }
}
