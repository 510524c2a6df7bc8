package io.weighbridge.adapter.grpc;

import static io.weighbridge.fixtures.Requests.caller;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.fixtures.RawGrpc;
import io.weighbridge.fixtures.RecordingRouter;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Issue 11 item 7: malformed protobuf is INVALID_ARGUMENT, logged once per interval. */
class StrictRequestsTest {

  /** Sends and receives raw bytes, as a fuzzer or a broken client would. */
  private static final MethodDescriptor<byte[], byte[]> RAW_TYPE =
      RawGrpc.raw(TrafficRouterGrpc.getTypeMethod());

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger(StrictRequests.class);
  private Server server;
  private ManagedChannel channel;
  private BoundedCallRunner calls;

  @BeforeEach
  void start() throws IOException {
    logged.start();
    logger.addAppender(logged);
    calls = new BoundedCallRunner(Duration.ofSeconds(10), new StatusMapper(), registry);
    TrafficRouterService service =
        new TrafficRouterService(
            new RecordingRouter().type("strict"),
            new ProtoMapper(),
            calls,
            List.of(io.weighbridge.fixtures.Requests.PLUGIN));
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .addService(new StrictRequests(registry).wrap(service.bindService()))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() throws InterruptedException {
    logger.detachAppender(logged);
    channel.shutdownNow();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    calls.close();
  }

  private byte[] call(byte[] request) {
    return ClientCalls.blockingUnaryCall(
        channel, RAW_TYPE, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), request);
  }

  @Nested
  @DisplayName("When a request message is not protobuf")
  class Malformed {

    @Test
    @DisplayName("When it arrives, then INVALID_ARGUMENT names the method and the fix")
    void invalidArgument() {
      assertThatThrownBy(() -> call(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff}))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription())
                    .contains("not a valid weighbridge.v1.TrafficRouter/Type message")
                    .contains("same release");
              });
    }

    @Test
    @DisplayName("When 200 arrive, then each is counted and the log has one line, without a stack")
    void countedAndLoggedOnce() {
      for (int i = 0; i < 200; i++) {
        assertThatThrownBy(() -> call(new byte[] {0x0a, 0x7f, 0x01}))
            .isInstanceOf(StatusRuntimeException.class);
      }

      assertThat(registry.get("weighbridge.grpc.malformed.requests").counter().count())
          .isEqualTo(200);
      assertThat(logged.list).hasSize(1);
      assertThat(logged.list.getFirst().getThrowableProxy()).isNull();
      assertThat(logged.list.getFirst().getFormattedMessage())
          .startsWith("refused 1 malformed request message(s)");
    }
  }

  @Test
  @DisplayName("When a well-formed request arrives, then it is answered as before")
  void wellFormedPasses() throws Exception {
    byte[] answer = call(TypeRequest.newBuilder().setCaller(caller()).build().toByteArray());

    assertThat(io.weighbridge.contract.v1.TypeResponse.parseFrom(answer).getType())
        .isEqualTo("strict");
  }

  @Test
  @DisplayName(
      "When malformed messages keep coming, then after each interval one line counts the rest")
  void oneLinePerInterval() {
    AtomicLong now = new AtomicLong();
    StrictRequests strict = new StrictRequests(new SimpleMeterRegistry(), now::get);
    for (int i = 0; i < 50; i++) {
      strict.malformed("SetWeight", new IllegalArgumentException("bad tag"));
    }
    now.addAndGet(StrictRequests.LOG_INTERVAL.toNanos());
    strict.malformed("SetWeight", new IllegalArgumentException("bad tag"));

    assertThat(logged.list)
        .extracting(ILoggingEvent::getFormattedMessage)
        .satisfiesExactly(
            first -> assertThat(first).startsWith("refused 1 malformed"),
            second -> assertThat(second).startsWith("refused 50 malformed"));
  }
}
