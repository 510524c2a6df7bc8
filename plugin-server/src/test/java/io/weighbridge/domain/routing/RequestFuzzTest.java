package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.CALLER;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.adapter.grpc.BoundedCallRunner;
import io.weighbridge.adapter.grpc.ProtoMapper;
import io.weighbridge.adapter.grpc.StatusMapper;
import io.weighbridge.adapter.grpc.StrictRequests;
import io.weighbridge.adapter.grpc.TrafficRouterService;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.StringMatch;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.analysis.AnalysisConfigParser;
import io.weighbridge.fixtures.RawGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Fuzz targets (Jazzer, issue 11): what a hostile connector or cluster can send must end in a
 * Weighbridge failure with a bounded message, never a bug (INTERNAL/UNKNOWN) or an unbounded echo.
 * {@code make test} runs the seed inputs under {@code RequestFuzzTestInputs/}; {@code make fuzz}
 * fuzzes each target for a bounded time (JAZZER_FUZZ=1). Findings become regression tests.
 */
class RequestFuzzTest {

  /** Longest status description allowed (StatusMapper's bound). */
  private static final int MAX_DESCRIPTION = 4000;

  private static final ProtoMapper MAPPER = new ProtoMapper();
  private static final StatusMapper STATUSES = new StatusMapper();

  /** A Rollout whose plugin configuration the fuzzer writes (after the first byte). */
  private static final String SKELETON =
      """
      {"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout",
       "metadata":{"namespace":"default","name":"app"},
       "spec":{"strategy":{"canary":{"canaryService":"%s","stableService":"%s",
        "trafficRouting":{"managedRoutes":[{"name":"h"}],
         "plugins":{"%s":@CONFIG@}},"steps":[{"setWeight":20}]}}}}
      """
          .formatted(Fixtures.CANARY, Fixtures.STABLE, Fixtures.PLUGIN);

  /** One router on a fake cluster with route default/shop, shared by every input. */
  private static final class Cluster {
    static final RouterHarness HARNESS = start();

    private static RouterHarness start() {
      RouterHarness h = new RouterHarness();
      h.cluster.put(Fixtures.richHttpRoute());
      h.cluster.putService("default", Fixtures.CANARY, 8080);
      h.cluster.putService("default", Fixtures.STABLE, 8080);
      return h;
    }
  }

  /** plugin-server's gRPC stack (strict parsing, service, bounded runner) over that router. */
  private static final class Grpc {
    static final ManagedChannel CHANNEL = start();

    private static ManagedChannel start() {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      BoundedCallRunner calls = new BoundedCallRunner(Duration.ofSeconds(10), STATUSES, registry);
      TrafficRouterService service =
          new TrafficRouterService(Cluster.HARNESS.router, MAPPER, calls, List.of(Fixtures.PLUGIN));
      String name = InProcessServerBuilder.generateName();
      try {
        InProcessServerBuilder.forName(name)
            .addService(new StrictRequests(registry).wrap(service.bindService()))
            .build()
            .start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return InProcessChannelBuilder.forName(name).build();
    }
  }

  private static final List<MethodDescriptor<byte[], byte[]>> METHODS =
      List.of(
              TrafficRouterGrpc.getSetWeightMethod(),
              TrafficRouterGrpc.getSetHeaderRouteMethod(),
              TrafficRouterGrpc.getSetMirrorRouteMethod(),
              TrafficRouterGrpc.getVerifyWeightMethod(),
              TrafficRouterGrpc.getUpdateHashMethod(),
              TrafficRouterGrpc.getRemoveManagedRoutesMethod(),
              TrafficRouterGrpc.getInitPluginMethod(),
              TrafficRouterGrpc.getTypeMethod())
          .stream()
          .map(RawGrpc::raw)
          .toList();

  /** A Weighbridge failure is fine when its status is not a bug's and its message is bounded. */
  private static void wellReported(WeighbridgeException failure) {
    wellReported(STATUSES.toStatus(failure));
  }

  private static void wellReported(Status status) {
    if (status.getCode() == Status.Code.INTERNAL || status.getCode() == Status.Code.UNKNOWN) {
      throw new AssertionError("answered as a bug: " + status, status.getCause());
    }
    String description = status.getDescription();
    if (description != null && description.length() > MAX_DESCRIPTION) {
      throw new AssertionError(
          "unbounded description (" + description.length() + " characters): " + status.getCode());
    }
  }

  /**
   * The Rollout JSON path: ProtoMapper (the gRPC mapping), the routing and analysis configuration
   * parsers, and SetWeight on the routing engine. Byte 0: bit 0 set = the rest is the plugin
   * configuration inside a valid Rollout, clear = the rest is the whole Rollout JSON.
   */
  @FuzzTest(maxDuration = "2m")
  void rolloutJson(byte[] input) {
    if (input.length == 0) {
      return;
    }
    String text = new String(input, 1, input.length - 1, StandardCharsets.UTF_8);
    String json = (input[0] & 1) == 1 ? SKELETON.replace("@CONFIG@", text) : text;
    io.weighbridge.contract.v1.Rollout proto =
        io.weighbridge.contract.v1.Rollout.newBuilder()
            .setNamespace("default")
            .setName("app")
            .setJson(ByteString.copyFromUtf8(json))
            .build();
    try {
      Rollout rollout = MAPPER.rollout("SetWeight", true, proto);
      RoutingConfigParser.parse(rollout, Fixtures.PLUGIN);
      var plugin =
          rollout
              .json()
              .path("spec")
              .path("strategy")
              .path("canary")
              .path("trafficRouting")
              .path("plugins")
              .path(Fixtures.PLUGIN);
      AnalysisConfigParser.parse(plugin, "plugins[\"" + Fixtures.PLUGIN + "\"]");
      Cluster.HARNESS.router.setWeight(CALLER, rollout, (input[0] >> 1) & 0x7f, List.of());
    } catch (WeighbridgeException e) {
      wellReported(e);
    }
  }

  /**
   * A SetHeaderRoute step as Argo sends it, on the routing engine: header names and values the
   * fuzzer picks, regexes included (checked with RE2 before any write).
   */
  @FuzzTest(maxDuration = "2m")
  void headerRoute(FuzzedDataProvider data) {
    String header = data.consumeString(40);
    int kind = data.consumeInt(0, 2);
    String value = data.consumeRemainingAsString();
    StringMatch match =
        switch (kind) {
          case 0 -> new StringMatch(value, "", "");
          case 1 -> new StringMatch("", value, "");
          default -> new StringMatch("", "", value);
        };
    Rollout rollout = Fixtures.rollout().managedRoutes("h").plugin("{'httpRoute': 'shop'}").build();
    try {
      Cluster.HARNESS.router.setHeaderRoute(
          CALLER,
          rollout,
          new HeaderRoute("h", List.of(new HeaderRoute.HeaderMatch(header, match))));
    } catch (WeighbridgeException e) {
      wellReported(e);
    }
  }

  /**
   * Raw bytes to a contract method through plugin-server's gRPC stack: byte 0 picks the method, the
   * rest is the request message as sent on the wire.
   */
  @FuzzTest(maxDuration = "2m")
  void grpcRequest(byte[] input) {
    if (input.length == 0) {
      return;
    }
    MethodDescriptor<byte[], byte[]> method = METHODS.get((input[0] & 0xff) % METHODS.size());
    try {
      ClientCalls.blockingUnaryCall(
          Grpc.CHANNEL,
          method,
          CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
          Arrays.copyOfRange(input, 1, input.length));
    } catch (StatusRuntimeException e) {
      wellReported(e.getStatus());
    }
  }
}
