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
import java.util.concurrent.Callable;
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

/**
 * Runs each call's domain work off the gRPC threads with a time bound, and answers it exactly once:
 * with the result, with the mapped failure, or with DEADLINE_EXCEEDED when the bound passes first.
 * Argo's net/rpc calls have no timeout of their own, so a call that hung here would block a rollout
 * worker forever; answering in time and interrupting the work is the only safe choice. The client's
 * own deadline and cancellation (the gRPC {@link Context}) also stop the work.
 *
 * <p>Why a bounded pool of platform threads rather than virtual threads: Argo sends at most 10
 * concurrent calls per controller, so {@value #MAX_RUNNING} threads leave ample headroom while
 * capping what a stuck dependency can consume: once every thread is stuck, further calls wait (and
 * still time out in time) and then are refused with UNAVAILABLE, which is visible, instead of
 * piling up without limit. Platform threads also avoid virtual-thread pinning on a Java 21 runtime,
 * where a library blocking inside {@code synchronized} would hold one of the few carrier threads a
 * small pod has and stall every other call.
 */
public final class BoundedCallRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BoundedCallRunner.class);

  /** Calls that run at once. */
  static final int MAX_RUNNING = 32;

  /** Calls that may wait for a thread; beyond this, calls are refused as busy. */
  static final int MAX_WAITING = 64;

  private final Duration timeout;
  private final StatusMapper statuses;
  private final ThreadPoolExecutor workers;
  private final ScheduledThreadPoolExecutor timer;

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
   * @param rolloutKey {@code namespace/name} of the Rollout, or "-" for calls without one
   */
  public <T> void run(
      String method, String rolloutKey, StreamObserver<T> responses, Callable<T> work) {
    new Call<>(method, rolloutKey, responses, work).start();
  }

  /** Stops the threads and interrupts calls still running; for use after the server stopped. */
  @Override
  public void close() {
    workers.shutdownNow();
    timer.shutdownNow();
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
    private final StreamObserver<T> responses;
    private final Callable<T> work;
    private final Context context = Context.current();
    private final long startNanos = System.nanoTime();
    private final AtomicBoolean answered = new AtomicBoolean();
    private volatile Future<?> running;
    private volatile ScheduledFuture<?> deadline;
    private volatile Thread worker;

    Call(String method, String rolloutKey, StreamObserver<T> responses, Callable<T> work) {
      this.method = method;
      this.rolloutKey = rolloutKey;
      this.responses = responses;
      this.work = work;
    }

    void start() {
      try {
        deadline = timer.schedule(this::timedOut, timeout.toNanos(), TimeUnit.NANOSECONDS);
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
                    + method
                    + " for rollout "
                    + rolloutKey
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
      } catch (Throwable t) { // NOPMD: every failure must answer the call, bugs included
        failure = t;
      } finally {
        worker = null;
      }
      finish(result, failure);
    }

    private void finish(T result, Throwable failure) {
      if (!answered.compareAndSet(false, true)) {
        log.atInfo()
            .addKeyValue("method", method)
            .addKeyValue("rollout", rolloutKey)
            .addKeyValue("durationMs", elapsedMillis())
            .setCause(failure)
            .log(
                "{} {} finished after {} ms, after it had been answered (deadline or"
                    + " cancellation); its {} was discarded",
                method,
                rolloutKey,
                elapsedMillis(),
                failure == null ? "result" : "failure");
        return;
      }
      stopWatching();
      if (failure == null) {
        log.atDebug()
            .addKeyValue("method", method)
            .addKeyValue("rollout", rolloutKey)
            .addKeyValue("durationMs", elapsedMillis())
            .log("{} {} OK in {} ms", method, rolloutKey, elapsedMillis());
        respond(result);
      } else {
        answerWith(failure);
      }
    }

    private void timedOut() {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      context.removeListener(this);
      Thread stuck = worker;
      DeadlineException failure =
          new DeadlineException(
              method
                  + " for rollout "
                  + rolloutKey
                  + " did not finish within "
                  + format(timeout)
                  + "; see plugin-server logs");
      if (stuck != null) {
        // Where the work hangs is what an operator needs to find the cause.
        Throwable where = new Throwable("stack of " + stuck.getName() + " when the bound passed");
        where.setStackTrace(stuck.getStackTrace());
        failure.addSuppressed(where);
      }
      log.atWarn()
          .addKeyValue("method", method)
          .addKeyValue("rollout", rolloutKey)
          .addKeyValue("durationMs", elapsedMillis())
          .setCause(stuck == null ? null : failure)
          .log(
              "{} {} did not finish within {}; answered DEADLINE_EXCEEDED and interrupted it{}",
              method,
              rolloutKey,
              format(timeout),
              stuck == null ? " (it was still waiting for a thread)" : "");
      answerWith(failure);
      Future<?> work = running;
      if (work != null) {
        work.cancel(true);
      }
    }

    /** The client cancelled or its deadline passed: stop the work, nobody waits for an answer. */
    @Override
    public void cancelled(Context cancelled) {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      ScheduledFuture<?> timeoutTask = deadline;
      if (timeoutTask != null) {
        timeoutTask.cancel(false);
      }
      Future<?> work = running;
      if (work != null) {
        work.cancel(true);
      }
      Throwable why = cancelled.cancellationCause();
      log.atInfo()
          .addKeyValue("method", method)
          .addKeyValue("rollout", rolloutKey)
          .addKeyValue("durationMs", elapsedMillis())
          .log(
              "{} {} cancelled by the client after {} ms ({}); the work was interrupted",
              method,
              rolloutKey,
              elapsedMillis(),
              why == null ? "no cause" : Status.fromThrowable(why));
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
      log.atWarn()
          .addKeyValue("method", method)
          .addKeyValue("rollout", rolloutKey)
          .addKeyValue("durationMs", elapsedMillis())
          .addKeyValue("status", status.getCode())
          .log(
              "{} {} failed with {} after {} ms: {}",
              method,
              rolloutKey,
              status.getCode(),
              elapsedMillis(),
              status.getDescription());
      try {
        responses.onError(status.asRuntimeException());
      } catch (RuntimeException e) {
        log.debug("{} {}: the call ended before its failure was sent", method, rolloutKey, e);
      }
    }

    private void respond(T result) {
      try {
        responses.onNext(result);
        responses.onCompleted();
      } catch (RuntimeException e) {
        log.debug("{} {}: the call ended before its answer was sent", method, rolloutKey, e);
      }
    }

    private long elapsedMillis() {
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }
  }
}
