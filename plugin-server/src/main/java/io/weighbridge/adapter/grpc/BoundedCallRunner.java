package io.weighbridge.adapter.grpc;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ExecutorServiceMetrics;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.UnavailableException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Runs each call's domain work off the gRPC threads with a time bound, and answers it exactly once:
 * with the result, with the mapped failure, or with DEADLINE_EXCEEDED when the bound passes first.
 * Argo's net/rpc calls have no timeout of their own, so a call that hung here would block a rollout
 * worker forever; answering in time and interrupting the work is the only safe choice. The client's
 * own deadline and cancellation (the gRPC {@link Context}) also stop the work.
 *
 * <p>The bound is the configured timeout or, when the call's gRPC deadline leaves less, that
 * deadline less {@value #DEADLINE_MARGIN_MILLIS} ms (at least half of what it leaves): a call that
 * waited in a saturated server still gets our DEADLINE_EXCEEDED with the reason, before the
 * connector's own deadline (15 s from when it sent the call) cuts it off with none.
 *
 * <p>Why a bounded pool of platform threads rather than virtual threads: Argo sends at most 10
 * concurrent calls per controller (its default 10 rollout workers), so {@value #MAX_RUNNING}
 * threads leave ample headroom while capping what a stuck dependency can consume: once every thread
 * is stuck, further calls wait (and still time out in time) and then are refused with UNAVAILABLE,
 * which is visible, instead of piling up without limit. Platform threads also avoid virtual-thread
 * pinning on a Java 21 runtime, where a library blocking inside {@code synchronized} would hold one
 * of the few carrier threads a small pod has and stall every other call.
 */
public final class BoundedCallRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BoundedCallRunner.class);

  /** Calls that run at once. */
  static final int MAX_RUNNING = 32;

  /** Calls that may wait for a thread; beyond this, calls are refused as busy. */
  static final int MAX_WAITING = 64;

  /** Time left for the answer to reach the client before its own deadline passes. */
  static final long DEADLINE_MARGIN_MILLIS = 1000;

  private final Duration timeout;
  private final StatusMapper statuses;
  private final ThreadPoolExecutor workers;
  private final ScheduledThreadPoolExecutor timer;
  private final Set<Call<?>> inFlight = ConcurrentHashMap.newKeySet();

  /**
   * Creates the runner; its threads start on demand.
   *
   * @param timeout the bound of each call
   * @param statuses maps failures to statuses
   * @param registry receives the pool's gauges ({@code executor_*{name="weighbridge.calls"}})
   */
  public BoundedCallRunner(Duration timeout, StatusMapper statuses, MeterRegistry registry) {
    this.timeout = timeout;
    this.statuses = statuses;
    this.workers =
        new ThreadPoolExecutor(
            MAX_RUNNING,
            MAX_RUNNING,
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(MAX_WAITING),
            Thread.ofPlatform().name("weighbridge-call-", 1).daemon().factory());
    // Idle threads go away, so an idle server holds none and start-up creates none.
    this.workers.allowCoreThreadTimeOut(true);
    this.timer =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().name("weighbridge-call-deadline").daemon().factory());
    // Most calls finish in time: drop their cancelled deadline tasks at once.
    this.timer.setRemoveOnCancelPolicy(true);
    new ExecutorServiceMetrics(workers, "weighbridge.calls", Tags.empty()).bindTo(registry);
  }

  /**
   * Runs {@code work} and answers {@code responses} with its result or failure, within the bound.
   * Call from a gRPC handler: the current {@link Context} is the call's.
   *
   * @param method the call's name, for logs and messages
   * @param rolloutKey {@code namespace/name} of the Rollout, or null for calls without one
   */
  public <T> void run(
      String method, String rolloutKey, StreamObserver<T> responses, Callable<T> work) {
    new Call<>(method, rolloutKey, responses, work).start();
  }

  /**
   * Answers every call still in flight with UNAVAILABLE and interrupts its work: for a shutdown
   * whose grace has passed, so that the connector gets a reason rather than a reset stream.
   *
   * @param why the end of each message, e.g. "plugin-server is shutting down ..."
   * @return how many calls were aborted
   */
  public int abortAll(String why) {
    int aborted = 0;
    for (Call<?> call : inFlight) {
      if (call.abort(why)) {
        aborted++;
      }
    }
    return aborted;
  }

  /** Stops the threads and interrupts calls still running; for use after the server stopped. */
  @Override
  public void close() {
    workers.shutdownNow();
    timer.shutdownNow();
  }

  /**
   * The configured timeout, or less when the call's deadline leaves less: that deadline less the
   * margin, but at least half of what it leaves.
   */
  Duration boundOf(Context context) {
    io.grpc.Deadline callDeadline = context.getDeadline();
    if (callDeadline == null) {
      return timeout;
    }
    long left = callDeadline.timeRemaining(TimeUnit.MILLISECONDS);
    long ours = Math.max(left - DEADLINE_MARGIN_MILLIS, left / 2);
    return ours < timeout.toMillis() ? Duration.ofMillis(Math.max(ours, 1)) : timeout;
  }

  /** {@code 14s} or {@code 250ms}, as the --call-timeout flag is written. */
  private static String format(Duration duration) {
    long millis = duration.toMillis();
    return millis % 1000 == 0 ? (millis / 1000) + "s" : millis + "ms";
  }

  /** One call: whichever of result, failure, deadline or cancellation comes first answers it. */
  private final class Call<T> implements Runnable, Context.CancellationListener {
    private final String method;
    private final String rolloutKey;
    private final String what;
    private final StreamObserver<T> responses;
    private final Callable<T> work;
    private final Context context = Context.current();
    private final long startNanos = System.nanoTime();
    private final Duration bound = boundOf(context);
    private final AtomicBoolean answered = new AtomicBoolean();
    private volatile Future<?> running;
    private volatile ScheduledFuture<?> deadline;
    private volatile Thread worker;

    Call(String method, String rolloutKey, StreamObserver<T> responses, Callable<T> work) {
      this.method = method;
      this.rolloutKey = rolloutKey;
      this.what = rolloutKey == null ? method : method + " for rollout " + rolloutKey;
      this.responses = responses;
      this.work = work;
    }

    void start() {
      inFlight.add(this);
      try {
        deadline = timer.schedule(this::timedOut, bound.toNanos(), TimeUnit.NANOSECONDS);
        // Runs at once when the client has already gone; run() then does nothing.
        context.addListener(this, Runnable::run);
        running = workers.submit(this);
      } catch (RejectedExecutionException e) {
        finish(
            null,
            new UnavailableException(
                "plugin-server is busy: "
                    + workers.getActiveCount()
                    + " calls are running and "
                    + workers.getQueue().size()
                    + " are waiting, so "
                    + what
                    + " was refused; retrying may help. If this persists, calls are not"
                    + " finishing: look in the plugin-server logs for calls that did not finish"
                    + " in time",
                e));
      }
    }

    @Override
    public void run() {
      if (answered.get()) {
        return; // timed out or cancelled while waiting for a thread
      }
      worker = Thread.currentThread();
      T result = null;
      Throwable failure = null;
      try {
        result = work.call();
      } catch (Throwable t) { // every failure must answer the call, bugs included
        failure = t;
      } finally {
        worker = null;
      }
      finish(result, failure);
    }

    private void finish(T result, Throwable failure) {
      inFlight.remove(this);
      if (!answered.compareAndSet(false, true)) {
        event(log.atInfo())
            .setCause(failure)
            .log(
                "{} finished after {} ms, after it had been answered (deadline, cancellation or"
                    + " shutdown); its {} was discarded",
                what,
                elapsedMillis(),
                failure == null ? "result" : "failure");
        return;
      }
      stopWatching();
      if (failure == null) {
        event(log.atDebug()).log("{} OK in {} ms", what, elapsedMillis());
        respond(result);
      } else {
        answerWith(failure);
      }
    }

    private void timedOut() {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      inFlight.remove(this);
      context.removeListener(this);
      Thread stuck = worker;
      if (stuck != null) {
        // Where the work hangs is what an operator needs to find the cause.
        Throwable where = new Throwable("stack of " + stuck.getName() + " when the bound passed");
        where.setStackTrace(stuck.getStackTrace());
        event(log.atWarn())
            .setCause(where)
            .log("{} is still running after {}; interrupting it", what, format(bound));
      }
      answerWith(
          new DeadlineException(
              what
                  + " did not finish within "
                  + format(bound)
                  + (bound.equals(timeout)
                      ? ""
                      : " (the call's deadline less " + DEADLINE_MARGIN_MILLIS + " ms)")
                  + "; see plugin-server logs"));
      Future<?> task = running;
      if (task != null) {
        task.cancel(true);
      }
    }

    /** The client cancelled or its deadline passed: stop the work, nobody waits for an answer. */
    @Override
    public void cancelled(Context cancelled) {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      inFlight.remove(this);
      ScheduledFuture<?> timeoutTask = deadline;
      if (timeoutTask != null) {
        timeoutTask.cancel(false);
      }
      Future<?> task = running;
      if (task != null) {
        task.cancel(true);
      }
      Throwable why = cancelled.cancellationCause();
      event(log.atInfo())
          .log(
              "{} cancelled by the client after {} ms ({}); its work was interrupted",
              what,
              elapsedMillis(),
              why == null ? "no cause" : Status.fromThrowable(why));
    }

    /** Answers UNAVAILABLE now and interrupts the work, unless already answered. */
    boolean abort(String why) {
      if (!answered.compareAndSet(false, true)) {
        return false;
      }
      inFlight.remove(this);
      stopWatching();
      answerWith(
          new UnavailableException(
              what + " was interrupted after " + elapsedMillis() + " ms: " + why));
      Future<?> task = running;
      if (task != null) {
        task.cancel(true);
      }
      return true;
    }

    private void stopWatching() {
      ScheduledFuture<?> timeoutTask = deadline;
      if (timeoutTask != null) {
        timeoutTask.cancel(false);
      }
      context.removeListener(this);
    }

    private void answerWith(Throwable failure) {
      Status status = statuses.toStatus(failure);
      event(log.atWarn())
          .addKeyValue("status", status.getCode())
          .log(
              "{} failed with {} after {} ms: {}",
              what,
              status.getCode(),
              elapsedMillis(),
              status.getDescription());
      try {
        responses.onError(status.asRuntimeException());
      } catch (RuntimeException e) {
        log.debug("{}: the call ended before its failure was sent", what, e);
      }
    }

    private void respond(T result) {
      try {
        responses.onNext(result);
        responses.onCompleted();
      } catch (RuntimeException e) {
        log.debug("{}: the call ended before its answer was sent", what, e);
      }
    }

    /** The call's key-value pairs, for JSON logs. */
    private LoggingEventBuilder event(LoggingEventBuilder event) {
      event.addKeyValue("method", method);
      if (rolloutKey != null) {
        event.addKeyValue("rollout", rolloutKey);
      }
      return event.addKeyValue("durationMs", elapsedMillis());
    }

    private long elapsedMillis() {
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }
  }
}
