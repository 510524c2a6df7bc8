package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.routing.RoutingMetrics.Operation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The per-route write machinery: plans one step on the freshest route object and patches it under
 * the route's lock, for several routes at a time. It is the only place that writes routes, and so
 * the only place that knows which resourceVersions are our own writes ({@link #isOwnWrite}).
 *
 * <p>A route is read through {@link RouteClient#get} (cache first; a miss is confirmed with one GET
 * before the route is called missing) and written with exactly one PATCH when its plan changes
 * something, none otherwise. After a route succeeded (written, or already as asked) the caller's
 * {@link Applied} callback runs while the lock is still held: that is where an intent becomes
 * defended state.
 */
final class RouteWriter implements AutoCloseable {

  /** One planning step on a route's working copy and ledger. */
  @FunctionalInterface
  interface Step {
    void apply(JsonPatchBuilder b, Ledger ledger);
  }

  /** Learns, under the route's lock, that a step succeeded on a route. */
  @FunctionalInterface
  interface Applied {
    void applied(RouteContext ctx);

    /** Nothing to record. */
    static Applied nothing() {
      return ctx -> {};
    }
  }

  private final RouteClient client;
  private final RoutingMetrics metrics;
  private final int parallelism;
  private final RouteLocks locks;
  private final ExecutorService writers;

  /** The resourceVersion each route had after our last PATCH of it. */
  private final Map<RouteId, String> ownWrites = new ConcurrentHashMap<>();

  RouteWriter(RouteClient client, RoutingMetrics metrics, RouterSettings settings) {
    this.client = client;
    this.metrics = metrics;
    this.parallelism = settings.writeParallelism();
    this.locks = new RouteLocks(settings.lockTimeout());
    // Virtual threads: a route write mostly waits on the API server; forEachRoute bounds how many
    // one call uses.
    this.writers =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("weighbridge-route-write-", 0).factory());
  }

  /**
   * Applies a step to each route, up to {@link RouterSettings#writeParallelism()} routes at a time
   * (each under its own lock, so calls on one route stay serialized); returns once every route is
   * done. When some fail, the others are still changed and the failure names both
   * (PartialFailureException, routes in configuration order), so that an operator knows which
   * routes carry the new state. {@code applied} runs only for the routes that succeeded.
   */
  void forEachRoute(
      Operation operation,
      String verb,
      List<RouteContext> targets,
      Function<RouteContext, Step> step,
      Applied applied) {
    int n = targets.size();
    WeighbridgeException[] errors = new WeighbridgeException[n];
    RuntimeException[] bugs = new RuntimeException[n];
    AtomicInteger next = new AtomicInteger();
    Thread caller = Thread.currentThread();
    Runnable worker =
        () -> {
          for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
            RouteContext ctx = targets.get(i);
            if (caller.isInterrupted()) {
              // The call timed out or was cancelled: routes not started yet are not written.
              errors[i] =
                  new UnavailableException(
                      ctx.id()
                          + " was not written: the call ended (timed out or cancelled) before its"
                          + " turn; Argo retries the call");
              continue;
            }
            try {
              apply(ctx, operation, () -> step.apply(ctx), applied);
            } catch (WeighbridgeException e) {
              metrics.routeFailed(ctx.id(), operation, e);
              errors[i] = e;
            } catch (RuntimeException e) {
              bugs[i] = e;
            }
          }
        };
    int helpers = Math.min(n, parallelism) - 1;
    List<CompletableFuture<Void>> running = new ArrayList<>(Math.max(0, helpers));
    for (int h = 0; h < helpers; h++) {
      running.add(CompletableFuture.runAsync(worker, writers));
    }
    worker.run(); // the calling thread writes too
    // join() is not interruptible: the call never returns while one of its writes still runs.
    running.forEach(CompletableFuture::join);

    for (RuntimeException bug : bugs) {
      if (bug != null) {
        throw bug;
      }
    }
    throwFailures(verb, targets, errors);
  }

  private static void throwFailures(
      String verb, List<RouteContext> targets, WeighbridgeException[] errors) {
    int n = targets.size();
    List<String> succeeded = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    List<String> details = new ArrayList<>();
    WeighbridgeException first = null;
    for (int i = 0; i < n; i++) {
      if (errors[i] == null) {
        succeeded.add(targets.get(i).id().toString());
      } else {
        failed.add(targets.get(i).id().toString());
        details.add(errors[i].getMessage());
        if (first == null) {
          first = errors[i];
        }
      }
    }
    if (first == null) {
      return;
    }
    if (n == 1) {
      throw first;
    }
    throw new PartialFailureException(
        verb
            + " updated "
            + (succeeded.isEmpty() ? "no route" : String.join(", ", succeeded))
            + " but failed on "
            + failed.size()
            + " of "
            + n
            + " routes: "
            + String.join("; ", details),
        succeeded,
        failed,
        first);
  }

  /**
   * Plans and patches one route under its lock. The step is obtained under the lock, so that it
   * sees the state left by the call before it; a null step means nothing to do.
   *
   * @return whether anything was written
   */
  boolean apply(RouteContext ctx, Operation operation, Supplier<Step> step, Applied applied) {
    return locks.withLock(
        ctx.id(),
        () -> {
          if (client.get(ctx.id()).isEmpty()) {
            throw new NotFoundException(
                ctx.id()
                    + " (from "
                    + ctx.source()
                    + ") does not exist: create it, or fix the name in the plugin configuration");
          }
          Step s = step.get();
          if (s == null) {
            return false;
          }
          boolean[] wrote = {false};
          ObservedRoute after =
              client.patch(
                  ctx.id(),
                  fresh -> {
                    List<JsonNode> ops = plan(fresh, ctx, s);
                    wrote[0] = !ops.isEmpty();
                    return ops;
                  });
          if (wrote[0]) {
            ownWrites.put(ctx.id(), after.resourceVersion());
            metrics.routeWritten(ctx.id(), operation);
          } else {
            metrics.writeSkipped(ctx.id(), operation);
          }
          applied.applied(ctx);
          return wrote[0];
        });
  }

  /**
   * Whether {@code route} is exactly what our last PATCH of it returned: its watch event is our own
   * write coming back, not a change by someone else.
   */
  boolean isOwnWrite(ObservedRoute route) {
    return route.resourceVersion() != null
        && Objects.equals(ownWrites.get(route.id()), route.resourceVersion());
  }

  /**
   * The patch for one route: the step's changes plus the ledger and label bookkeeping; empty when
   * nothing changes (no write at all, #230).
   */
  static List<JsonNode> plan(ObservedRoute route, RouteContext ctx, Step step) {
    Ledger before = Ledger.read(route.object(), route.id());
    Ledger after = before.copy();
    JsonPatchBuilder b = new JsonPatchBuilder(route.object());
    step.apply(b, after);
    Ledger.write(b, before, after, ctx);
    return b.changesNothing() ? List.of() : b.ops();
  }

  @Override
  public void close() {
    writers.shutdownNow();
  }
}
