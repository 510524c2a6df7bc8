package io.weighbridge.server;

import static io.weighbridge.fixtures.Requests.caller;
import static io.weighbridge.fixtures.Requests.destination;
import static io.weighbridge.fixtures.Requests.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.metrics.GrpcServerMetrics;
import io.weighbridge.adapter.metrics.MicrometerAnalysisMetrics;
import io.weighbridge.adapter.metrics.MicrometerRoutingMetrics;
import io.weighbridge.contract.v1.InitPluginRequest;
import io.weighbridge.contract.v1.RemoveManagedRoutesRequest;
import io.weighbridge.contract.v1.SetHeaderRouteRequest;
import io.weighbridge.contract.v1.SetMirrorRouteRequest;
import io.weighbridge.contract.v1.SetWeightRequest;
import io.weighbridge.contract.v1.SetWeightResponse;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.contract.v1.UpdateHashRequest;
import io.weighbridge.contract.v1.Verification;
import io.weighbridge.contract.v1.VerifyWeightRequest;
import io.weighbridge.contract.v1.VerifyWeightResponse;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.DeadlineException;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.NotImplementedException;
import io.weighbridge.domain.PartialFailureException;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.VerifyResult;
import io.weighbridge.domain.WeightDestination;
import io.weighbridge.fixtures.RecordingRouter;
import io.weighbridge.fixtures.Requests;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** PluginServer over a real loopback Netty port, driven by a grpc-java client and HTTP. */
class PluginServerTest {
  private final RecordingRouter router = new RecordingRouter();
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<CountDownLatch> gates = new ArrayList<>();
  private PluginServer server;
  private ManagedChannel channel;

  private void start(String... args) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "--grpc-port=0",
                "--http-port=0",
                "--bind-address=127.0.0.1",
                "--call-timeout=5s",
                "--auth-mode=none"));
    all.addAll(List.of(args));
    server =
        new PluginServer(
            ServerConfig.parse(all.toArray(String[]::new), Map.of()), router, registry);
    server.start();
    channel = channel();
  }

  private ManagedChannel channel() {
    ManagedChannel created =
        NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    channels.add(created);
    return created;
  }

  private CountDownLatch block() {
    CountDownLatch gate = router.block();
    gates.add(gate);
    return gate;
  }

  @AfterEach
  void stop() {
    gates.forEach(CountDownLatch::countDown);
    channels.forEach(ManagedChannel::shutdownNow);
    if (server != null) {
      server.close();
    }
  }

  private TrafficRouterGrpc.TrafficRouterBlockingStub stub() {
    return stub(channel);
  }

  private static TrafficRouterGrpc.TrafficRouterBlockingStub stub(ManagedChannel channel) {
    return TrafficRouterGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private static SetWeightRequest setWeight(int weight) {
    return SetWeightRequest.newBuilder()
        .setCaller(caller())
        .setRollout(rollout())
        .setDesiredWeight(weight)
        .build();
  }

  private static TypeRequest type() {
    return TypeRequest.newBuilder().setCaller(caller()).build();
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static Status statusOf(Throwable thrown) {
    return Status.fromThrowable(thrown);
  }

  private static Caller domainCaller() {
    return new Caller(Requests.PLUGIN, "v0.1.0");
  }

  private RecordingRouter.Call onlyCall() {
    assertThat(router.calls()).hasSize(1);
    return router.calls().getFirst();
  }

  // ---- every RPC reaches the router with the right values -----------------------------------

  @Test
  void initPluginReachesTheRouter() {
    start();

    stub().initPlugin(InitPluginRequest.newBuilder().setCaller(caller()).build());

    assertThat(onlyCall())
        .isEqualTo(new RecordingRouter.Call("InitPlugin", domainCaller(), null, List.of()));
  }

  @Test
  void updateHashReachesTheRouter() {
    start();

    stub()
        .updateHash(
            UpdateHashRequest.newBuilder()
                .setCaller(caller())
                .setRollout(rollout())
                .setCanaryHash("canary1")
                .setStableHash("stable1")
                .addAdditionalDestinations(destination("exp", "h1", 5))
                .build());

    RecordingRouter.Call call = onlyCall();
    assertThat(call.method()).isEqualTo("UpdateHash");
    assertThat(call.caller()).isEqualTo(domainCaller());
    assertThat(call.rollout().key()).isEqualTo("demo/app");
    assertThat(call.rollout().uid()).isEqualTo("uid-1");
    assertThat(call.args())
        .containsExactly("canary1", "stable1", List.of(new WeightDestination("exp", "h1", 5)));
  }

  @Test
  void setWeightReachesTheRouter() {
    start();

    stub()
        .setWeight(
            setWeight(30).toBuilder()
                .addAdditionalDestinations(destination("exp-a", "a1", 10))
                .addAdditionalDestinations(destination("exp-b", "b1", 20))
                .build());

    RecordingRouter.Call call = onlyCall();
    assertThat(call.method()).isEqualTo("SetWeight");
    assertThat(call.caller()).isEqualTo(domainCaller());
    assertThat(call.rollout().namespace()).isEqualTo("demo");
    assertThat(call.rollout().name()).isEqualTo("app");
    assertThat(call.rollout().generation()).isEqualTo(7);
    assertThat(call.rollout().resourceVersion()).isEqualTo("4711");
    assertThat(call.rollout().json().at("/kind").asText()).isEqualTo("Rollout");
    assertThat(call.args())
        .containsExactly(
            30,
            List.of(
                new WeightDestination("exp-a", "a1", 10),
                new WeightDestination("exp-b", "b1", 20)));
  }

  @Test
  void setHeaderRouteReachesTheRouter() {
    start();

    stub()
        .setHeaderRoute(
            SetHeaderRouteRequest.newBuilder()
                .setCaller(caller())
                .setRollout(rollout())
                .setHeaderRoute(Requests.headerRoute())
                .build());

    RecordingRouter.Call call = onlyCall();
    assertThat(call.method()).isEqualTo("SetHeaderRoute");
    assertThat(call.rollout().key()).isEqualTo("demo/app");
    assertThat(call.args()).hasSize(1);
    HeaderRoute route = (HeaderRoute) call.args().getFirst();
    assertThat(route.name()).isEqualTo("canary-header");
    assertThat(route.matches()).hasSize(2);
    assertThat(route.matches().get(1).value()).isNull();
  }

  @Test
  void setMirrorRouteReachesTheRouter() {
    start();

    stub()
        .setMirrorRoute(
            SetMirrorRouteRequest.newBuilder()
                .setCaller(caller())
                .setRollout(rollout())
                .setMirrorRoute(Requests.mirrorRoute())
                .build());

    RecordingRouter.Call call = onlyCall();
    assertThat(call.method()).isEqualTo("SetMirrorRoute");
    MirrorRoute route = (MirrorRoute) call.args().getFirst();
    assertThat(route.name()).isEqualTo("mirror");
    assertThat(route.percentage()).isEqualTo(25);
    assertThat(route.matches()).hasSize(2);
  }

  @Test
  @DisplayName("When the router does not verify, then the verdict and reason reach the client")
  void verifyWeightReturnsTheVerdict() {
    start();
    router.verdict(VerifyResult.notVerified("route demo/app-route at 10, want 30"));

    VerifyWeightResponse response =
        stub()
            .verifyWeight(
                VerifyWeightRequest.newBuilder()
                    .setCaller(caller())
                    .setRollout(rollout())
                    .setDesiredWeight(30)
                    .addAdditionalDestinations(destination("exp", "h", 1))
                    .build());

    assertThat(response.getVerification()).isEqualTo(Verification.VERIFICATION_NOT_VERIFIED);
    assertThat(response.getReason()).isEqualTo("route demo/app-route at 10, want 30");
    assertThat(onlyCall().args())
        .containsExactly(30, List.of(new WeightDestination("exp", "h", 1)));
  }

  @Test
  void removeManagedRoutesReachesTheRouter() {
    start();

    stub()
        .removeManagedRoutes(
            RemoveManagedRoutesRequest.newBuilder()
                .setCaller(caller())
                .setRollout(rollout())
                .build());

    RecordingRouter.Call call = onlyCall();
    assertThat(call.method()).isEqualTo("RemoveManagedRoutes");
    assertThat(call.caller()).isEqualTo(domainCaller());
    assertThat(call.rollout().key()).isEqualTo("demo/app");
  }

  @Test
  void typeReturnsTheRoutersName() {
    start();
    router.type("Weighbridge");

    assertThat(stub().type(type()).getType()).isEqualTo("Weighbridge");
  }

  // ---- errors arrive with the right code and message ----------------------------------------

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of(
            new InvalidConfigException("httpRoute missing: set it"), Status.Code.INVALID_ARGUMENT),
        Arguments.of(new NotFoundException("HTTPRoute demo/x not found"), Status.Code.NOT_FOUND),
        Arguments.of(new RejectedException("webhook denied"), Status.Code.FAILED_PRECONDITION),
        Arguments.of(new ConflictException("conflict after 5 tries"), Status.Code.ABORTED),
        Arguments.of(new UnavailableException("API server down"), Status.Code.UNAVAILABLE),
        Arguments.of(new DeadlineException("API too slow"), Status.Code.DEADLINE_EXCEEDED),
        Arguments.of(new NotImplementedException("TCPRoute mirror"), Status.Code.UNIMPLEMENTED),
        Arguments.of(
            new PartialFailureException(
                "a updated, b not found", List.of("a"), List.of("b"), new NotFoundException("b")),
            Status.Code.NOT_FOUND));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("failures")
  @DisplayName("When the router fails, then the client gets its code and message unchanged")
  void failuresArriveWithCodeAndMessage(RuntimeException failure, Status.Code code) {
    start();
    router.failWith(failure);

    assertThatThrownBy(() -> stub().setWeight(setWeight(10)))
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(code);
              assertThat(statusOf(thrown).getDescription()).isEqualTo(failure.getMessage());
            });
  }

  @Test
  @DisplayName("When the router has a bug, then INTERNAL names it")
  void bugsAreInternal() {
    start();
    router.failWith(new NullPointerException("route was null"));

    assertThatThrownBy(() -> stub().type(type()))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.INTERNAL);
              assertThat(statusOf(thrown).getDescription())
                  .isEqualTo(
                      "internal error in plugin-server: java.lang.NullPointerException: route was"
                          + " null; please report it");
            });
  }

  @Test
  @DisplayName("When the plugin name is not accepted, then FAILED_PRECONDITION says how to fix it")
  void unacceptedPluginName() {
    start("--accepted-plugin-names=weighbridge/gateway-api");

    assertThatThrownBy(
            () ->
                stub()
                    .initPlugin(
                        InitPluginRequest.newBuilder()
                            .setCaller(caller("argoproj-labs/gatewayAPI"))
                            .build()))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(statusOf(thrown).getDescription())
                  .isEqualTo(
                      "plugin name argoproj-labs/gatewayAPI is not accepted by this plugin-server"
                          + " (accepted: weighbridge/gateway-api): set --accepted-plugin-names (or"
                          + " WEIGHBRIDGE_ACCEPTED_PLUGIN_NAMES) to include it, or rename the"
                          + " plugin in argo-rollouts-config");
            });
    assertThat(router.calls()).isEmpty();
  }

  @Test
  void callWithoutCallerIsRefused() {
    start();

    assertThatThrownBy(() -> stub().type(TypeRequest.getDefaultInstance()))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(statusOf(thrown).getDescription())
                  .startsWith("plugin name (empty) is not accepted");
            });
  }

  @Test
  @DisplayName(
      "When the Rollout JSON is broken, then INVALID_ARGUMENT and the router is not called")
  void brokenRolloutJson() {
    start();

    assertThatThrownBy(
            () -> stub().setWeight(setWeight(10).toBuilder().setRollout(rollout("{oops")).build()))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(statusOf(thrown).getDescription())
                  .startsWith("SetWeight for rollout demo/app: the Rollout JSON cannot be parsed");
            });
    assertThat(router.calls()).isEmpty();
  }

  @Test
  void missingRollout() {
    start();

    assertThatThrownBy(
            () -> stub().setWeight(SetWeightRequest.newBuilder().setCaller(caller()).build()))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(statusOf(thrown).getDescription())
                  .startsWith("SetWeight request carries no rollout");
            });
  }

  @Test
  void messageLargerThanTheLimitIsRefused() {
    start("--max-message-size=1KiB");

    String big = "{\"pad\":\"" + "x".repeat(2048) + "\"}";
    assertThatThrownBy(
            () -> stub().setWeight(setWeight(10).toBuilder().setRollout(rollout(big)).build()))
        .satisfies(
            thrown ->
                assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThat(router.calls()).isEmpty();
  }

  // ---- every call is bounded ------------------------------------------------------------------

  @Test
  @DisplayName(
      "When the router blocks past --call-timeout, then DEADLINE_EXCEEDED and it is interrupted")
  void callTimeout() {
    start("--call-timeout=300ms");
    block();

    assertThatThrownBy(() -> stub().setWeight(setWeight(10)))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
              assertThat(statusOf(thrown).getDescription())
                  .isEqualTo(
                      "SetWeight for rollout demo/app did not finish within 300ms; see"
                          + " plugin-server logs");
            });
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.interrupted() == 1);
  }

  @Test
  @DisplayName("When the client's deadline passes first, then the router is interrupted")
  void clientDeadlineInterruptsTheWork() {
    start();
    block();

    assertThatThrownBy(
            () ->
                TrafficRouterGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(200, TimeUnit.MILLISECONDS)
                    .setWeight(setWeight(10)))
        .satisfies(
            thrown ->
                assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.interrupted() == 1);
  }

  @Test
  @DisplayName("When the client cancels, then the router is interrupted")
  void clientCancellationInterruptsTheWork() {
    start();
    block();
    ListenableFuture<SetWeightResponse> call =
        TrafficRouterGrpc.newFutureStub(channel).setWeight(setWeight(10));
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.calls().size() == 1);

    call.cancel(true);

    await().atMost(5, TimeUnit.SECONDS).until(() -> router.interrupted() == 1);
  }

  // ---- health, readiness and metrics ----------------------------------------------------------

  @Test
  @DisplayName("When started, then the gRPC health service reports SERVING")
  void healthServing() {
    start();
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);

    assertThat(health.check(HealthCheckRequest.newBuilder().setService("").build()).getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(
            health
                .check(
                    HealthCheckRequest.newBuilder()
                        .setService(TrafficRouterGrpc.SERVICE_NAME)
                        .build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThatThrownBy(
            () -> health.check(HealthCheckRequest.newBuilder().setService("nope").build()))
        .satisfies(
            thrown -> assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  @DisplayName("When asked through reflection, then the contract and health services are listed")
  void reflectionListsTheServices() {
    start();
    BlockingQueue<ServerReflectionResponse> responses = new LinkedBlockingQueue<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse value) {
                    responses.add(value);
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onCompleted() {}
                });

    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());

    await().atMost(5, TimeUnit.SECONDS).until(() -> !responses.isEmpty());
    requests.onCompleted();
    assertThat(
            responses.peek().getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName))
        .contains(TrafficRouterGrpc.SERVICE_NAME, "grpc.health.v1.Health");
  }

  @Test
  void httpHealthAndReadiness() throws Exception {
    start();

    assertThat(get("/healthz").statusCode()).isEqualTo(200);
    assertThat(get("/healthz").body()).isEqualTo("ok\n");
    assertThat(get("/readyz").statusCode()).isEqualTo(200);

    router.ready(false);
    HttpResponse<String> notReady = get("/readyz");
    assertThat(notReady.statusCode()).isEqualTo(503);
    assertThat(notReady.body()).startsWith("not ready: the traffic router is not ready");
    assertThat(get("/healthz").statusCode()).isEqualTo(200);
  }

  @Test
  void httpRefusesOtherPathsAndMethods() throws Exception {
    start();

    assertThat(get("/nope").statusCode()).isEqualTo(404);
    assertThat(get("/healthz/extra").statusCode()).isEqualTo(404);
    HttpResponse<String> post =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/readyz"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  @Test
  @DisplayName(
      "When calls were made, then /metrics has the standard gRPC, build-info and process names")
  void metricsPerMethod() throws Exception {
    start();
    Metadata connector = new Metadata();
    connector.put(
        Metadata.Key.of(
            GrpcServerMetrics.CONNECTOR_VERSION_HEADER, Metadata.ASCII_STRING_MARSHALLER),
        "v9.8.7");
    stub()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(connector))
        .setWeight(setWeight(10));
    router.failWith(new NotFoundException("gone"));
    assertThatThrownBy(() -> stub().setWeight(setWeight(20)))
        .isInstanceOf(StatusRuntimeException.class);

    HttpResponse<String> metrics = get("/metrics");

    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("Content-Type"))
        .hasValue("text/plain; version=0.0.4; charset=utf-8");
    String body = metrics.body();
    String setWeight =
        "grpc_method=\"SetWeight\",grpc_service=\"weighbridge.v1.TrafficRouter\",grpc_type=\"unary\"";
    assertThat(body)
        .contains("grpc_server_handled_total{grpc_code=\"OK\"," + setWeight + "} 1.0")
        .contains("grpc_server_handled_total{grpc_code=\"NOT_FOUND\"," + setWeight + "} 1.0")
        .contains("grpc_server_started_total{" + setWeight + "} 2.0")
        .contains("grpc_server_handling_seconds_count{" + setWeight + "} 2")
        .containsPattern(
            "grpc_server_handling_seconds_bucket\\{"
                + Pattern.quote(setWeight)
                + ",le=\"15.0\"\\} 2")
        // Pre-registered: methods never called are there with zero.
        .containsPattern(
            "grpc_server_handled_total\\{grpc_code=\"OK\",grpc_method=\"VerifyWeight\"[^}]*\\} 0.0")
        .contains("weighbridge_connector_calls_total{connector_version=\"v9.8.7\"} 1.0")
        .contains("weighbridge_connector_calls_total{connector_version=\"unknown\"} 1.0")
        .containsPattern(
            "(?m)^weighbridge_build_info\\{revision=\"unknown\",version=\"dev\"\\} 1(\\.0)?$")
        .contains("jvm_memory_used_bytes")
        .containsPattern("(?m)^process_cpu_seconds_total [0-9.E]+$")
        .containsPattern("(?m)^process_resident_memory_bytes [0-9.E]+$")
        .containsPattern("(?m)^process_open_fds [0-9.E]+$")
        .contains("process_start_time_seconds")
        .doesNotContain("process_cpu_usage")
        .doesNotContain("process_files_open_files")
        .doesNotContain("grpc_server_processing_duration_seconds")
        .contains("executor_pool_max_threads{name=\"weighbridge.calls\"} 32");
  }

  @Test
  @DisplayName(
      "When the chart's Grafana dashboard is read, then every metric it queries is in a real"
          + " scrape of /metrics")
  void dashboardQueriesOnlyExposedMetrics() throws Exception {
    start();
    // The meters Main binds to the same registry besides PluginServer's own.
    new MicrometerRoutingMetrics(registry);
    new MicrometerAnalysisMetrics(registry, () -> 0, () -> false);
    stub().setWeight(setWeight(10));
    Set<String> exposed = new TreeSet<>();
    Matcher sample =
        Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]").matcher(get("/metrics").body());
    while (sample.find()) {
      exposed.add(sample.group(1));
    }
    JsonNode dashboard =
        new ObjectMapper()
            .readTree(
                Path.of("..", "charts", "weighbridge", "dashboards", "weighbridge.json").toFile());
    Pattern selector = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{");
    List<String> exprs = dashboard.findValues("expr").stream().map(JsonNode::asText).toList();

    assertThat(exprs).hasSizeGreaterThan(10);
    Set<String> queried = new TreeSet<>();
    for (String expr : exprs) {
      Matcher m = selector.matcher(expr);
      List<String> names = new ArrayList<>();
      while (m.find()) {
        names.add(m.group(1));
      }
      assertThat(names).as("metric selectors of %s", expr).isNotEmpty();
      queried.addAll(names);
    }
    assertThat(exposed).as("metrics a scrape exposes").containsAll(queried);
    assertThat(queried)
        .contains(
            "grpc_server_handled_total",
            "grpc_server_handling_seconds_bucket",
            "weighbridge_build_info",
            "weighbridge_connector_calls_total",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes");
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  @Test
  @DisplayName(
      "When closed during a call, then it drains the call, reports not serving, refuses new calls")
  void gracefulCloseDrainsThenRefuses() throws Exception {
    start("--shutdown-grace=10s");
    CountDownLatch gate = block();
    ListenableFuture<SetWeightResponse> inFlight =
        TrafficRouterGrpc.newFutureStub(channel).setWeight(setWeight(30));
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.calls().size() == 1);
    BlockingQueue<ServingStatus> watched = new LinkedBlockingQueue<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    watch.run(
        () ->
            HealthGrpc.newStub(channel)
                .watch(HealthCheckRequest.getDefaultInstance(), collect(watched)));
    await().atMost(5, TimeUnit.SECONDS).until(() -> watched.contains(ServingStatus.SERVING));

    CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);

    await().atMost(5, TimeUnit.SECONDS).until(() -> watched.contains(ServingStatus.NOT_SERVING));
    watch.cancel(null);
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(() -> assertThat(get("/readyz").statusCode()).isEqualTo(503));
    assertThat(get("/readyz").body()).isEqualTo("not ready: shutting down\n");
    assertThatThrownBy(() -> stub(channel()).type(type()))
        .satisfies(
            thrown -> assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    assertThat(closing).isNotDone();

    gate.countDown();

    assertThat(inFlight.get(5, TimeUnit.SECONDS)).isEqualTo(SetWeightResponse.getDefaultInstance());
    closing.get(5, TimeUnit.SECONDS);
    assertThatThrownBy(() -> stub().type(type()))
        .satisfies(
            thrown -> assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  @DisplayName("When a call outlives the shutdown grace, then close cancels it and returns")
  void closeIsBoundedByTheGrace() throws Exception {
    start("--shutdown-grace=200ms");
    block();
    ListenableFuture<SetWeightResponse> inFlight =
        TrafficRouterGrpc.newFutureStub(channel).setWeight(setWeight(30));
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.calls().size() == 1);

    server.close();

    assertThatThrownBy(() -> inFlight.get(5, TimeUnit.SECONDS))
        .satisfies(
            thrown -> {
              assertThat(statusOf(thrown).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(statusOf(thrown).getDescription())
                  .startsWith("SetWeight for rollout demo/app was interrupted after ")
                  .endsWith(
                      " ms: plugin-server is shutting down and the call did not finish within"
                          + " the shutdown grace of 200ms; Argo retries it on a later reconcile");
            });
    await().atMost(5, TimeUnit.SECONDS).until(() -> router.interrupted() == 1);
  }

  @Test
  void closeIsIdempotentAndWorksBeforeStart() throws Exception {
    start();
    server.close();
    server.close();
    server.awaitStopped();

    PluginServer never =
        new PluginServer(
            ServerConfig.parse(new String[] {"--grpc-port=0", "--auth-mode=none"}, Map.of()),
            router,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    never.close();
    never.close();
    assertThatThrownBy(never::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void startTwiceIsRefused() {
    start();

    assertThatThrownBy(server::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already started");
  }

  @Test
  @DisplayName("When the gRPC port is taken, then start fails naming --grpc-port")
  void grpcPortInUse() {
    start();
    PluginServer second =
        new PluginServer(
            ServerConfig.parse(
                new String[] {
                  "--grpc-port=" + server.grpcPort(),
                  "--http-port=0",
                  "--bind-address=127.0.0.1",
                  "--auth-mode=none"
                },
                Map.of()),
            router,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));

    assertThatThrownBy(second::start)
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageStartingWith("cannot listen for gRPC on 127.0.0.1:" + server.grpcPort())
        .hasMessageEndingWith("choose another --grpc-port or stop what uses it");
  }

  @Test
  @DisplayName("When the HTTP port is taken, then start fails naming --http-port and frees gRPC")
  void httpPortInUse() {
    start();
    PluginServer second =
        new PluginServer(
            ServerConfig.parse(
                new String[] {
                  "--grpc-port=0",
                  "--http-port=" + server.httpPort(),
                  "--bind-address=127.0.0.1",
                  "--auth-mode=none"
                },
                Map.of()),
            router,
            new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));

    assertThatThrownBy(second::start)
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("cannot listen for HTTP on")
        .hasMessageEndingWith("choose another --http-port or stop what uses it");
  }

  private static <T> StreamObserver<HealthCheckResponse> collect(
      BlockingQueue<ServingStatus> into) {
    return new StreamObserver<>() {
      @Override
      public void onNext(HealthCheckResponse value) {
        into.add(value.getStatus());
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }
}
