package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;
import static io.weighbridge.domain.routing.Fixtures.CANARY;
import static io.weighbridge.domain.routing.Fixtures.PLUGIN;
import static io.weighbridge.domain.routing.Fixtures.STABLE;
import static io.weighbridge.domain.routing.Fixtures.rollout;
import static io.weighbridge.domain.routing.Fixtures.weights;
import static io.weighbridge.domain.routing.GatewayApiTrafficRouterTest.route;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.UnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Routes of one call written concurrently, and drift restoration resumed after a restart. */
class ParallelWritesAndResumeTest {

  private static final String KEY = "default/rollouts-demo";

  private static RouterSettings settings(int parallelism) {
    return new RouterSettings(
        Duration.ofSeconds(10), Duration.ZERO, Duration.ofHours(1), 16, parallelism);
  }

  /** A Rollout naming routes r0..r{n-1}. */
  private static Rollout manyRoutes(RouterHarness h, int n) {
    StringBuilder names = new StringBuilder();
    for (int i = 0; i < n; i++) {
      h.cluster.put(route("r" + i));
      names.append(i == 0 ? "" : ", ").append("{'name': 'r").append(i).append("'}");
    }
    return rollout("{'httpRoutes': [" + names + "]}");
  }

  private static void setCanaryWeight(ObjectNode route, int canary, int stable) {
    var refs = route.path("spec").path("rules").get(0).path("backendRefs");
    ((ObjectNode) refs.get(0)).put("weight", stable);
    ((ObjectNode) refs.get(1)).put("weight", canary);
  }

  @Nested
  @DisplayName("parallel writes")
  class ParallelWrites {

    @Test
    @DisplayName(
        "When a Rollout has 20 routes and writeParallelism is 8, then exactly 8 are written at"
            + " the same time and all 20 get the weight")
    void boundedParallelism() {
      try (RouterHarness h = new RouterHarness(settings(8))) {
        Rollout r = manyRoutes(h, 20);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        CountDownLatch eightIn = new CountDownLatch(8);
        AtomicBoolean gaveUp = new AtomicBoolean();
        h.cluster.duringPatch(
            id -> {
              max.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
              eightIn.countDown();
              try {
                // Holds the first patches open until 8 run at once; written one after the other,
                // they never would, and the test fails (after one bounded wait, not 20).
                if (!gaveUp.get() && !eightIn.await(5, TimeUnit.SECONDS)) {
                  gaveUp.set(true);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                inFlight.decrementAndGet();
              }
            });

        h.router.setWeight(CALLER, r, 20, List.of());

        assertThat(gaveUp).isFalse();
        assertThat(max.get()).isEqualTo(8);
        for (int i = 0; i < 20; i++) {
          assertThat(weights(h.cluster.object(new RouteId(RouteKind.HTTP, "default", "r" + i)), 0))
              .containsEntry(CANARY, 20)
              .containsEntry(STABLE, 80);
        }
      }
    }

    @Test
    @DisplayName(
        "When writeParallelism is 1, then routes are written one at a time in configuration order")
    void serialWhenOne() {
      try (RouterHarness h = new RouterHarness(settings(1))) {
        Rollout r = manyRoutes(h, 5);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        List<String> order = new ArrayList<>();
        h.cluster.duringPatch(
            id -> {
              max.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
              synchronized (order) {
                order.add(id.name());
              }
              inFlight.decrementAndGet();
            });

        h.router.setWeight(CALLER, r, 20, List.of());

        assertThat(max.get()).isEqualTo(1);
        assertThat(order).containsExactly("r0", "r1", "r2", "r3", "r4");
      }
    }

    @Test
    @DisplayName(
        "When 2 of 12 routes written in parallel fail, then the other 10 carry the weight and the"
            + " failure names both groups in configuration order")
    void partialFailureInParallel() {
      try (RouterHarness h = new RouterHarness(settings(4))) {
        Rollout r = manyRoutes(h, 12);
        h.cluster.failNextPatch(
            new RouteId(RouteKind.HTTP, "default", "r3"), new RejectedException("denied r3"));
        h.cluster.failNextPatch(
            new RouteId(RouteKind.HTTP, "default", "r9"), new RejectedException("denied r9"));

        assertThatThrownBy(() -> h.router.setWeight(CALLER, r, 20, List.of()))
            .isInstanceOfSatisfying(
                PartialFailureException.class,
                e -> {
                  assertThat(e.failed())
                      .containsExactly("HTTPRoute default/r3", "HTTPRoute default/r9");
                  assertThat(e.succeeded()).hasSize(10).doesNotContain("HTTPRoute default/r3");
                  assertThat(e.succeeded().getFirst()).isEqualTo("HTTPRoute default/r0");
                  assertThat(e.getMessage())
                      .contains("failed on 2 of 12 routes: denied r3; denied r9");
                });
        for (int i = 0; i < 12; i++) {
          int canary = i == 3 || i == 9 ? 0 : 20;
          assertThat(weights(h.cluster.object(new RouteId(RouteKind.HTTP, "default", "r" + i)), 0))
              .as("r" + i)
              .containsEntry(CANARY, canary);
        }
      }
    }

    @Test
    @DisplayName(
        "When the call is interrupted (timed out) during its first write, then the routes not yet"
            + " started are not written and are reported as failed")
    void interruptedCallStopsStartingWrites() {
      try (RouterHarness h = new RouterHarness(settings(1))) {
        Rollout r = manyRoutes(h, 3);
        h.cluster.duringPatch(
            id -> {
              if (id.name().equals("r0")) {
                Thread.currentThread().interrupt(); // as BoundedCallRunner does on a timeout
              }
            });
        try {
          assertThatThrownBy(() -> h.router.setWeight(CALLER, r, 20, List.of()))
              .isInstanceOfSatisfying(
                  PartialFailureException.class,
                  e -> {
                    assertThat(e.succeeded()).containsExactly("HTTPRoute default/r0");
                    assertThat(e.failed())
                        .containsExactly("HTTPRoute default/r1", "HTTPRoute default/r2");
                    assertThat(e.getMessage()).contains("the call ended (timed out or cancelled)");
                  });
        } finally {
          Thread.interrupted();
        }
        assertThat(weights(h.cluster.object(new RouteId(RouteKind.HTTP, "default", "r1")), 0))
            .containsEntry(CANARY, 0);
      }
    }

    @Test
    @DisplayName("When writeParallelism is below 1, then the settings say what is wrong")
    void invalidParallelism() {
      assertThatThrownBy(() -> settings(0))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("writeParallelism must be at least 1");
    }
  }

  @Nested
  @DisplayName("resume")
  class Resume {
    private final RouterHarness a = new RouterHarness(settings(8));
    private final List<GatewayApiTrafficRouter> engines = new ArrayList<>();

    @AfterEach
    void tearDown() {
      a.close();
      engines.forEach(GatewayApiTrafficRouter::close);
    }

    private GatewayApiTrafficRouter engineB() {
      GatewayApiTrafficRouter b = new GatewayApiTrafficRouter(a.cluster, a.metrics, settings(8));
      engines.add(b);
      return b;
    }

    private static ResumeSettings resumeSettings(int attempts) {
      return new ResumeSettings(List.of(PLUGIN), Set.of(), attempts, Duration.ofMillis(10));
    }

    @Test
    @DisplayName(
        "When engine A set a weight and a new engine B resumes, then B restores a hand edit"
            + " without any call")
    void restoresAfterRestart() throws Exception {
      RouteId id = a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      a.router.close();

      GatewayApiTrafficRouter b = engineB();
      ResumeReport report =
          b.resume((ns, name) -> Optional.of(r), resumeSettings(1)).get(10, TimeUnit.SECONDS);

      assertThat(report.resumed()).containsExactly(KEY);
      assertThat(b.watchedRoutes(KEY)).containsExactly(id);
      a.cluster.update(id, x -> setCanaryWeight(x, 0, 100));
      a.cluster.awaitWeights(id, 30, 70);
    }

    @Test
    @DisplayName(
        "When the weights were changed while no engine ran, then resuming restores them at once")
    void repairsDriftFromDowntime() throws Exception {
      RouteId id = a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      a.router.close();
      a.cluster.update(id, x -> setCanaryWeight(x, 0, 100));

      engineB().resume((ns, name) -> Optional.of(r), resumeSettings(1)).get(10, TimeUnit.SECONDS);

      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> assertThat(weights(a.cluster.object(id), 0)).containsEntry(CANARY, 30));
    }

    @Test
    @DisplayName(
        "When the Rollout was deleted or re-created, or finished before the restart, then nothing"
            + " is resumed")
    void notResumedWhenGoneOrFinished() throws Exception {
      a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());

      ResumeReport gone =
          engineB()
              .resume((ns, name) -> Optional.empty(), resumeSettings(1))
              .get(10, TimeUnit.SECONDS);
      assertThat(gone.resumed()).isEmpty();
      assertThat(gone.skipped()).containsEntry(KEY, "the Rollout no longer exists");

      Rollout recreated = new Rollout(r.namespace(), r.name(), "another-uid", 1, "1", r.json());
      GatewayApiTrafficRouter b2 = engineB();
      ResumeReport replaced =
          b2.resume((ns, name) -> Optional.of(recreated), resumeSettings(1))
              .get(10, TimeUnit.SECONDS);
      assertThat(replaced.resumed()).isEmpty();
      assertThat(replaced.skipped().get(KEY)).startsWith("the Rollout was re-created");
      assertThat(b2.watchedRoutes(KEY)).isEmpty();

      a.router.setWeight(CALLER, r, 0, List.of()); // finished: the ledger keeps no weights
      ResumeReport finished =
          engineB()
              .resume((ns, name) -> Optional.of(r), resumeSettings(1))
              .get(10, TimeUnit.SECONDS);
      assertThat(finished.resumed()).isEmpty();
      assertThat(finished.skipped()).isEmpty();
    }

    @Test
    @DisplayName("When reading the Rollout fails at first, then resume tries again and succeeds")
    void retriedWithBackoff() throws Exception {
      a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      a.router.close();
      AtomicInteger calls = new AtomicInteger();
      RolloutLookup flaky =
          (ns, name) -> {
            if (calls.incrementAndGet() < 3) {
              throw new UnavailableException("API server unreachable (test)");
            }
            return Optional.of(r);
          };

      ResumeReport report = engineB().resume(flaky, resumeSettings(5)).get(10, TimeUnit.SECONDS);

      assertThat(calls).hasValue(3);
      assertThat(report.resumed()).containsExactly(KEY);
    }

    @Test
    @DisplayName("When every attempt fails, then resume gives up after maxAttempts with the cause")
    void boundedRetries() {
      a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      AtomicInteger calls = new AtomicInteger();

      var future =
          engineB()
              .resume(
                  (ns, name) -> {
                    calls.incrementAndGet();
                    throw new UnavailableException("down (test)");
                  },
                  resumeSettings(3));

      assertThatThrownBy(() -> future.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(UnavailableException.class);
      assertThat(calls).hasValue(3);
    }

    @Test
    @DisplayName(
        "When Argo called the new engine before resume ran, then Argo's state is kept, not the"
            + " ledger's")
    void argoCallWins() throws Exception {
      a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      a.router.close();
      GatewayApiTrafficRouter b = engineB();
      b.setWeight(CALLER, r, 50, List.of());

      ResumeReport report =
          b.resume((ns, name) -> Optional.of(r), resumeSettings(1)).get(10, TimeUnit.SECONDS);

      assertThat(report.resumed()).isEmpty();
      assertThat(report.skipped()).containsEntry(KEY, "Argo called about it since the start");
    }
  }

  /**
   * The engine's port on the fake cluster, where someone else edits a route at the moment the
   * engine next reads it: the edit lands while a drift check runs, too late to be coalesced with
   * it, so its watch event asks for a second check (the interleaving a loaded machine produces at
   * random, forced here).
   */
  private static final class EditWhileChecking implements RouteClient {
    private final FakeRouteClient cluster;
    private final AtomicReference<Runnable> onNextRead = new AtomicReference<>();
    private final AtomicReference<Runnable> onNextWatch = new AtomicReference<>();

    EditWhileChecking(FakeRouteClient cluster) {
      this.cluster = cluster;
    }

    /** The next read of a route runs {@code edit} first. */
    void editOnNextRead(Runnable edit) {
      onNextRead.set(edit);
    }

    /** The first read after the next watch is opened runs {@code edit} first. */
    void editOnFirstReadAfterWatch(Runnable edit) {
      onNextWatch.set(edit);
    }

    boolean edited() {
      return onNextRead.get() == null && onNextWatch.get() == null;
    }

    @Override
    public Optional<String> apiVersion(RouteKind kind) {
      return cluster.apiVersion(kind);
    }

    @Override
    public boolean servesField(RouteKind kind, String fieldPath) {
      return cluster.servesField(kind, fieldPath);
    }

    @Override
    public Optional<ObservedRoute> get(RouteId id) {
      Runnable e = onNextRead.getAndSet(null);
      if (e != null) {
        e.run();
      }
      return cluster.get(id);
    }

    @Override
    public List<ObservedRoute> select(
        RouteKind kind, String namespace, java.util.Map<String, String> matchLabels) {
      return cluster.select(kind, namespace, matchLabels);
    }

    @Override
    public List<ObservedRoute> listAllNamespaces(RouteKind kind) {
      return cluster.listAllNamespaces(kind);
    }

    @Override
    public ObservedRoute patch(
        RouteId id,
        java.util.function.Function<ObservedRoute, List<com.fasterxml.jackson.databind.JsonNode>>
            planner) {
      return cluster.patch(id, planner);
    }

    @Override
    public Optional<com.fasterxml.jackson.databind.JsonNode> service(
        String namespace, String name) {
      return cluster.service(namespace, name);
    }

    @Override
    public AutoCloseable watch(RouteId id, java.util.function.Consumer<ObservedRoute> listener) {
      AutoCloseable w = cluster.watch(id, listener);
      Runnable e = onNextWatch.getAndSet(null);
      if (e != null) {
        onNextRead.set(e);
      }
      return w;
    }
  }

  @Nested
  @DisplayName("one write per drift")
  class OneWritePerDrift {
    private final RouterHarness a = new RouterHarness(settings(8));
    private final List<GatewayApiTrafficRouter> engines = new ArrayList<>();

    @AfterEach
    void tearDown() {
      a.close();
      engines.forEach(GatewayApiTrafficRouter::close);
    }

    /** Waits until {@code n} drift checks of the route finished, then counts its restorations. */
    private long restorationsAfterChecks(RouteId id, int n) {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  a.metrics.count("written " + id + " DRIFT_RESTORE")
                          + a.metrics.count("skipped " + id + " DRIFT_RESTORE")
                      >= n);
      return a.metrics.count("drift " + id);
    }

    @Test
    @DisplayName(
        "When a hand edit lands while the resume's recheck runs, then its watch event is checked"
            + " again but only one write restores it")
    void resumeRecheckRacingTheEditsEvent() throws Exception {
      RouteId id = a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      a.router.setWeight(CALLER, r, 30, List.of());
      a.router.close();
      int writesBefore = a.cluster.writes(id).size();
      EditWhileChecking racing = new EditWhileChecking(a.cluster);
      // Armed on B's watch: the first read after it is the recheck's, so the edit lands inside it.
      racing.editOnFirstReadAfterWatch(() -> a.cluster.update(id, x -> setCanaryWeight(x, 0, 100)));
      GatewayApiTrafficRouter b = new GatewayApiTrafficRouter(racing, a.metrics, settings(8));
      engines.add(b);

      b.resume((ns, name) -> Optional.of(r), resumeSettings()).get(10, TimeUnit.SECONDS);

      // Two checks: the recheck (which writes) and the one the edit's event asked for.
      assertThat(restorationsAfterChecks(id, 2)).isEqualTo(1);
      assertThat(racing.edited()).isTrue();
      assertThat(weights(a.cluster.object(id), 0))
          .containsEntry(CANARY, 30)
          .containsEntry(STABLE, 70);
      assertThat(a.cluster.writes(id)).hasSize(writesBefore + 1);
    }

    @Test
    @DisplayName(
        "When a second hand edit lands while the first one's restoration runs, then one write"
            + " restores both")
    void driftCheckRacingTheNextEditsEvent() {
      RouteId id = a.cluster.put(route("a"));
      Rollout r = rollout("{'httpRoute': 'a'}");
      EditWhileChecking racing = new EditWhileChecking(a.cluster);
      GatewayApiTrafficRouter router = new GatewayApiTrafficRouter(racing, a.metrics, settings(8));
      engines.add(router);
      router.setWeight(CALLER, r, 30, List.of());
      int writesBefore = a.cluster.writes(id).size();
      racing.editOnNextRead(() -> a.cluster.update(id, x -> setCanaryWeight(x, 10, 90)));

      a.cluster.update(id, x -> setCanaryWeight(x, 0, 100));

      assertThat(restorationsAfterChecks(id, 2)).isEqualTo(1);
      assertThat(racing.edited()).isTrue();
      assertThat(weights(a.cluster.object(id), 0))
          .containsEntry(CANARY, 30)
          .containsEntry(STABLE, 70);
      assertThat(a.cluster.writes(id)).hasSize(writesBefore + 1);
    }

    private static ResumeSettings resumeSettings() {
      return new ResumeSettings(List.of(PLUGIN), Set.of(), 1, Duration.ofMillis(10));
    }
  }
}
