package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static io.weighbridge.domain.routing.GatewayApiTrafficRouterTest.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.Rollout;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class DriftAndConcurrencyTest {
  private static final String KEY = "default/rollouts-demo";

  private final Rollout rolloutA = rollout("{'httpRoute': 'a'}");

  private static void setCanaryWeight(ObjectNode route, int canary, int stable) {
    var refs = route.path("spec").path("rules").get(0).path("backendRefs");
    ((ObjectNode) refs.get(0)).put("weight", stable);
    ((ObjectNode) refs.get(1)).put("weight", canary);
  }

  @Nested
  @DisplayName("drift")
  class Drift {
    private final RouterHarness h = new RouterHarness();

    @AfterEach
    void tearDown() {
      h.close();
    }

    @Test
    @DisplayName("When someone resets our weights during a canary, then they are restored at once")
    void restored() {
      RouteId a = h.cluster.put(route("a"));
      h.router.setWeight(CALLER, rolloutA, 30, List.of());
      assertThat(h.router.watchedRoutes(KEY)).containsExactly(a);

      h.cluster.update(a, r -> setCanaryWeight(r, 0, 100));

      h.cluster.awaitWeights(a, 30, 70);
      await().until(() -> h.metrics.count("drift HTTPRoute default/a") == 1);
      assertThat(h.metrics.events).contains("written HTTPRoute default/a DRIFT_RESTORE");
    }

    @Test
    @DisplayName(
        "When someone resets our weights right after our own write, then the spacing between"
            + " restorations does not delay the repair")
    void ownWriteDoesNotDelayRepair() {
      try (RouterHarness spaced =
          new RouterHarness(
              new RouterSettings(
                  Duration.ofSeconds(5), Duration.ofHours(1), Duration.ofHours(1), 16))) {
        RouteId a = spaced.cluster.put(route("a"));
        spaced.router.setWeight(CALLER, rolloutA, 30, List.of());
        spaced.router.setWeight(CALLER, rolloutA, 40, List.of()); // written while watched

        spaced.cluster.update(a, r -> setCanaryWeight(r, 0, 100));

        spaced.cluster.awaitWeights(a, 40, 60);
      }
    }

    @Test
    @DisplayName(
        "When Argo's next call reaches another replica, then this replica stands down instead of"
            + " restoring its older weights, and still repairs a foreign edit of the newer ones")
    void anotherReplicaServedTheNextCall() {
      try (RouterHarness other = new RouterHarness(h)) {
        RouteId a = h.cluster.put(route("a"));
        h.router.setWeight(CALLER, rolloutA, 20, List.of());
        other.router.setWeight(CALLER, rolloutA, 50, List.of());

        // Give the first replica's guard time to see the other replica's write and act on it.
        await()
            .during(Duration.ofSeconds(1))
            .atMost(Duration.ofSeconds(5))
            .untilAsserted(
                () -> assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 50));
        assertThat(h.metrics.count("drift HTTPRoute default/a")).isZero();

        h.cluster.update(a, r -> setCanaryWeight(r, 0, 100));
        h.cluster.awaitWeights(a, 50, 50);
        assertThat(h.metrics.count("drift HTTPRoute default/a")).isZero();
      }
    }

    @Test
    @DisplayName("When a GitOps sync prunes our header rule during a pause, then it is restored")
    void headerRuleRestored() {
      RouteId a = h.cluster.put(route("a"));
      Rollout withHeader = rollout().managedRoutes("beta").plugin("{'httpRoute': 'a'}").build();
      h.router.setWeight(CALLER, withHeader, 0, List.of());
      h.router.setHeaderRoute(
          CALLER,
          withHeader,
          new io.weighbridge.domain.HeaderRoute(
              "beta", List.of(HeaderRoutePlannerTest.exact("X-Beta", "1"))));
      h.router.setWeight(CALLER, withHeader, 0, List.of());
      ObjectNode withRule = h.cluster.object(a);
      assertThat(withRule.path("spec").path("rules")).hasSize(2);

      h.cluster.update(
          a,
          r ->
              ((com.fasterxml.jackson.databind.node.ArrayNode) r.path("spec").path("rules"))
                  .remove(1));

      await()
          .untilAsserted(
              () ->
                  assertThat(h.cluster.object(a).path("spec").path("rules").get(1))
                      .isEqualTo(withRule.path("spec").path("rules").get(1)));
      await().until(() -> h.metrics.count("drift HTTPRoute default/a") == 1);

      h.router.setHeaderRoute(
          CALLER, withHeader, new io.weighbridge.domain.HeaderRoute("beta", List.of()));
      h.router.removeManagedRoutes(CALLER, withHeader);
      h.router.setWeight(CALLER, withHeader, 0, List.of());
      assertThat(h.cluster.object(a).path("spec").path("rules")).hasSize(1);
      assertThat(h.cluster.watchCount(a)).isZero();
    }

    @Test
    @DisplayName("When someone changes something else, then nothing is written")
    void unrelatedChange() {
      RouteId a = h.cluster.put(route("a"));
      h.router.setWeight(CALLER, rolloutA, 30, List.of());
      int writes = h.cluster.writes().size();

      h.cluster.update(
          a, r -> ((ObjectNode) r.path("spec")).putArray("hostnames").add("x.example"));

      await().until(() -> h.metrics.count("skipped HTTPRoute default/a DRIFT_RESTORE") >= 1);
      assertThat(h.cluster.writes()).hasSize(writes);
      assertThat(h.metrics.count("drift ")).isZero();
    }

    @Test
    @DisplayName("When the canary finishes (weight 0, nothing managed), then the watch is closed")
    void stopsWhenFinished() {
      RouteId a = h.cluster.put(route("a"));
      h.router.setWeight(CALLER, rolloutA, 30, List.of());
      assertThat(h.cluster.watchCount(a)).isEqualTo(1);

      h.router.removeManagedRoutes(CALLER, rolloutA);
      h.router.setWeight(CALLER, rolloutA, 0, List.of());

      assertThat(h.router.watchedRoutes(KEY)).isEmpty();
      assertThat(h.cluster.watchCount(a)).isZero();
    }

    @Test
    @DisplayName(
        "When Argo stops calling about a Rollout, then its watch is closed after the idle time")
    void idleRolloutForgotten() {
      MutableClock clock = new MutableClock();
      FakeRouteClient cluster = new FakeRouteClient();
      RouteId a = cluster.put(route("a"));
      try (GatewayApiTrafficRouter router =
          new GatewayApiTrafficRouter(
              cluster,
              RoutingMetrics.noop(),
              new RouterSettings(Duration.ofSeconds(5), Duration.ZERO, Duration.ofMinutes(30), 8),
              clock)) {
        router.setWeight(CALLER, rolloutA, 30, List.of());
        clock.advance(Duration.ofMinutes(20));
        router.forgetIdleRolloutsNow();
        assertThat(cluster.watchCount(a)).isEqualTo(1);

        clock.advance(Duration.ofMinutes(20));
        router.forgetIdleRolloutsNow();

        assertThat(cluster.watchCount(a)).isZero();
      }
    }
  }

  @Nested
  @DisplayName("concurrency")
  class Concurrency {
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void tearDown() {
      threads.shutdownNow();
    }

    @Test
    @DisplayName("When two calls change the same route, then they run one after the other")
    void sameRouteSerialized() throws Exception {
      try (RouterHarness h = new RouterHarness()) {
        RouteId a = h.cluster.put(route("a"));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        h.cluster.duringPatch(
            id -> {
              maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
              entered.countDown();
              block(release);
              inside.decrementAndGet();
            });
        AtomicReference<Thread> second = new AtomicReference<>();

        CompletableFuture<Void> first =
            CompletableFuture.runAsync(
                () -> h.router.setWeight(CALLER, rolloutA, 10, List.of()), threads);
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Void> then =
            CompletableFuture.runAsync(
                () -> {
                  second.set(Thread.currentThread());
                  h.router.setWeight(CALLER, rolloutA, 20, List.of());
                },
                threads);
        await()
            .until(
                () ->
                    second.get() != null && second.get().getState() == Thread.State.TIMED_WAITING);
        release.countDown();
        first.get(10, TimeUnit.SECONDS);
        then.get(10, TimeUnit.SECONDS);

        assertThat(maxInside.get()).isEqualTo(1);
        assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 20);
      }
    }

    @Test
    @DisplayName(
        "When a route stays busy past the lock timeout, then DeadlineException, no effect; others run")
    void boundedWaitAndParallelRoutes() throws Exception {
      try (RouterHarness h =
          new RouterHarness(
              new RouterSettings(Duration.ofMillis(200), Duration.ZERO, Duration.ofHours(1), 8))) {
        RouteId a = h.cluster.put(route("a"));
        RouteId b = h.cluster.put(route("b"));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        h.cluster.duringPatch(
            id -> {
              if (id.equals(a)) {
                entered.countDown();
                block(release);
              }
            });
        CompletableFuture<Void> holder =
            CompletableFuture.runAsync(
                () -> h.router.setWeight(CALLER, rolloutA, 10, List.of()), threads);
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

        try {
          assertThatThrownBy(() -> h.router.setWeight(CALLER, rolloutA, 20, List.of()))
              .isInstanceOf(DeadlineException.class)
              .hasMessageContaining("another call has been changing HTTPRoute default/a");
          h.router.setWeight(
              CALLER, rollout().name("other").plugin("{'httpRoute': 'b'}").build(), 40, List.of());
          assertThat(weights(h.cluster.object(b), 0)).containsEntry(CANARY, 40);
        } finally {
          release.countDown();
        }
        holder.get(10, TimeUnit.SECONDS);
        // The timed-out SetWeight(20) failed on route a, so it has no effect there: the route
        // keeps (and the drift guard defends) the last call that succeeded until Argo retries.
        await()
            .during(Duration.ofMillis(500))
            .atMost(Duration.ofSeconds(5))
            .untilAsserted(
                () -> assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 10));
        h.router.setWeight(CALLER, rolloutA, 20, List.of());
        assertThat(weights(h.cluster.object(a), 0)).containsEntry(CANARY, 20);
      }
    }
  }

  private static void block(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("test latch not released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A clock the test moves by hand. */
  static final class MutableClock extends Clock {
    private Instant now = Instant.parse("2026-01-01T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
