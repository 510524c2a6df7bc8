package io.weighbridge.adapter.grpc;

import static io.weighbridge.fixtures.Requests.caller;
import static io.weighbridge.fixtures.Requests.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.contract.v1.SetWeightRequest;
import io.weighbridge.contract.v1.SetWeightResponse;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.fixtures.RecordingRouter;
import io.weighbridge.fixtures.Requests;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The runner's bounds, over the in-process transport. */
class BoundedCallRunnerTest {
  private final RecordingRouter router = new RecordingRouter();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<CountDownLatch> gates = new ArrayList<>();
  private BoundedCallRunner runner;
  private Server server;
  private ManagedChannel channel;

  private void start(Duration timeout) throws IOException {
    runner = new BoundedCallRunner(timeout, new StatusMapper(), registry);
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(
                new TrafficRouterService(
                    router, new ProtoMapper(), runner, List.of(Requests.PLUGIN)))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() {
    gates.forEach(CountDownLatch::countDown);
    channel.shutdownNow();
    server.shutdownNow();
    runner.close();
  }

  private CountDownLatch block() {
    CountDownLatch gate = router.block();
    gates.add(gate);
    return gate;
  }

  private ListenableFuture<SetWeightResponse> setWeight() {
    return TrafficRouterGrpc.newFutureStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .setWeight(
            SetWeightRequest.newBuilder()
                .setCaller(caller())
                .setRollout(rollout())
                .setDesiredWeight(10)
                .build());
  }

  private double completed() {
    return registry
        .get("executor.completed")
        .tag("name", "weighbridge.calls")
        .functionCounter()
        .count();
  }

  private double queued() {
    return registry.get("executor.queued").tag("name", "weighbridge.calls").gauge().value();
  }

  @Test
  @DisplayName("When every thread is stuck and the queue is full, then a call is refused as busy")
  void busy() throws Exception {
    start(Duration.ofSeconds(30));
    CountDownLatch gate = block();
    List<ListenableFuture<SetWeightResponse>> accepted = new ArrayList<>();
    for (int i = 0; i < BoundedCallRunner.MAX_RUNNING + BoundedCallRunner.MAX_WAITING; i++) {
      accepted.add(setWeight());
    }
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(
            () ->
                router.calls().size() == BoundedCallRunner.MAX_RUNNING
                    && queued() == BoundedCallRunner.MAX_WAITING);

    assertThatThrownBy(() -> setWeight().get(10, TimeUnit.SECONDS))
        .satisfies(
            thrown -> {
              Status status = Status.fromThrowable(thrown);
              assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(status.getDescription())
                  .startsWith(
                      "plugin-server is busy: 32 calls are running and 64 are waiting, so"
                          + " SetWeight for rollout demo/app was refused; retrying may help.");
            });

    gate.countDown();
    assertThat(Futures.allAsList(accepted).get(10, TimeUnit.SECONDS))
        .hasSize(BoundedCallRunner.MAX_RUNNING + BoundedCallRunner.MAX_WAITING);
  }

  @Test
  @DisplayName("When a call times out while waiting for a thread, then it never runs")
  void timedOutWhileWaiting() throws Exception {
    start(Duration.ofMillis(300));
    CountDownLatch gate = router.blockIgnoringInterrupts();
    gates.add(gate);
    List<ListenableFuture<SetWeightResponse>> stuck = new ArrayList<>();
    for (int i = 0; i < BoundedCallRunner.MAX_RUNNING; i++) {
      stuck.add(setWeight());
    }
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> router.calls().size() == BoundedCallRunner.MAX_RUNNING);
    ListenableFuture<SetWeightResponse> waiting = setWeight();

    assertThatThrownBy(() -> waiting.get(10, TimeUnit.SECONDS))
        .satisfies(
            thrown ->
                assertThat(Status.fromThrowable(thrown).getCode())
                    .isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    for (ListenableFuture<SetWeightResponse> call : stuck) {
      assertThatThrownBy(() -> call.get(10, TimeUnit.SECONDS))
          .satisfies(
              thrown ->
                  assertThat(Status.fromThrowable(thrown).getCode())
                      .isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    }

    gate.countDown();
    // Every task has been through a thread; the answered one was skipped, not run late.
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> completed() == BoundedCallRunner.MAX_RUNNING + 1);
    assertThat(router.calls()).hasSize(BoundedCallRunner.MAX_RUNNING);
  }

  @Test
  @DisplayName("When calls are aborted, then each is answered UNAVAILABLE with the reason")
  void abortAll() throws Exception {
    start(Duration.ofSeconds(30));
    block();
    ListenableFuture<SetWeightResponse> call = setWeight();
    await().atMost(10, TimeUnit.SECONDS).until(() -> router.calls().size() == 1);

    assertThat(runner.abortAll("plugin-server is shutting down")).isEqualTo(1);

    assertThatThrownBy(() -> call.get(10, TimeUnit.SECONDS))
        .satisfies(
            thrown -> {
              Status status = Status.fromThrowable(thrown);
              assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(status.getDescription())
                  .startsWith("SetWeight for rollout demo/app was interrupted after ")
                  .endsWith(" ms: plugin-server is shutting down");
            });
    await().atMost(10, TimeUnit.SECONDS).until(() -> router.interrupted() == 1);
    assertThat(runner.abortAll("again")).isZero();
  }

  @Test
  @DisplayName(
      "When the client's deadline leaves less than the bound, then the server answers first, with"
          + " its reason (issue 11)")
  void boundFollowsTheCallDeadline() throws Exception {
    start(Duration.ofSeconds(30));
    block();

    assertThatThrownBy(
            () ->
                TrafficRouterGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(3, TimeUnit.SECONDS)
                    .setWeight(
                        SetWeightRequest.newBuilder()
                            .setCaller(caller())
                            .setRollout(rollout())
                            .setDesiredWeight(10)
                            .build()))
        .satisfies(
            thrown -> {
              Status status = Status.fromThrowable(thrown);
              assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
              assertThat(status.getDescription())
                  .startsWith("SetWeight for rollout demo/app did not finish within ")
                  .contains("(the call's deadline less 1000 ms); see plugin-server logs");
            });
  }

  @Test
  @DisplayName("When the client's deadline leaves more than the bound, then the bound is kept")
  void boundKeptUnderALongDeadline() throws Exception {
    start(Duration.ofSeconds(5));
    var timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    io.grpc.Context.CancellableContext context =
        io.grpc.Context.current().withDeadlineAfter(60, TimeUnit.SECONDS, timer);
    try {
      assertThat(runner.boundOf(context)).isEqualTo(Duration.ofSeconds(5));
      assertThat(runner.boundOf(io.grpc.Context.ROOT)).isEqualTo(Duration.ofSeconds(5));
    } finally {
      context.cancel(null);
      timer.shutdownNow();
    }
  }
}
