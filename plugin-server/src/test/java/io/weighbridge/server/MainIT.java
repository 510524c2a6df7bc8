package io.weighbridge.server;

import static io.weighbridge.fixtures.Requests.caller;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.weighbridge.contract.v1.SetWeightRequest;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.testkit.KubeApiServer;
import io.weighbridge.testkit.TestNamespace;
import io.weighbridge.testkit.WithKubeApiServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar started as {@code make run} starts it: flags, logs, wiring to a real API server,
 * serving, SIGTERM.
 */
@WithKubeApiServer(gatewayApi = "v1.5.1-experimental")
class MainIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final List<Process> processes = new ArrayList<>();

  /** A started process with its output lines collected as they come. */
  private record Run(Process process, List<String> stdout, List<String> stderr) {}

  private Run run(String... args) throws IOException {
    Path jar = Path.of(System.getProperty("weighbridge.server.jar", "target/missing.jar"));
    assertThat(jar).as("the packaged jar (run mvn verify, not only test)").exists();
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().keySet().removeIf(name -> name.startsWith("WEIGHBRIDGE_"));
    Process process = builder.start();
    processes.add(process);
    return new Run(process, collect(process.getInputStream()), collect(process.getErrorStream()));
  }

  private static List<String> collect(InputStream stream) {
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread.ofPlatform()
        .daemon()
        .start(
            () -> {
              try (BufferedReader reader =
                  new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                reader.lines().forEach(lines::add);
              } catch (IOException | UncheckedIOException e) {
                lines.add("(reading failed: " + e + ")");
              }
            });
    return lines;
  }

  @AfterEach
  void stop() {
    processes.forEach(Process::destroyForcibly);
  }

  @Test
  void helpPrintsUsageAndExitsZero() throws Exception {
    Run run = run("--help");

    assertThat(run.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(run.process().exitValue()).isZero();
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () -> assertThat(String.join("\n", run.stdout())).contains("--accepted-plugin-names"));
  }

  @Test
  @DisplayName("When a flag is invalid, then the process says why on stderr and exits 2")
  void invalidFlagExitsTwo() throws Exception {
    Run run = run("--grpc-port=abc");

    assertThat(run.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(run.process().exitValue()).isEqualTo(2);
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () ->
                assertThat(run.stderr())
                    .contains(
                        "weighbridge plugin-server: --grpc-port: invalid value 'abc': expected a"
                            + " TCP port from 0 to 65535 (0 picks a free port), e.g. 9090"));
  }

  @Test
  @DisplayName(
      "When started with JSON logs and a kubeconfig, then it moves weights and stops on SIGTERM")
  void servesAndStopsOnSigterm(
      KubeApiServer apiServer, KubernetesClient client, TestNamespace namespace) throws Exception {
    String ns = namespace.name();
    client.resource(route(ns)).create();
    Run run =
        run(
            "--kubeconfig=" + apiServer.kubeconfig(),
            "--informer-scope=namespace",
            "--grpc-port=0",
            "--http-port=0",
            "--bind-address=127.0.0.1",
            "--log-format=json",
            "--log-level=debug",
            "--auth-mode=none");
    JsonNode serving =
        await()
            .atMost(30, TimeUnit.SECONDS)
            .until(() -> line(run, "serving gRPC on"), Optional::isPresent)
            .orElseThrow();
    int grpcPort = kv(serving, "grpcPort");
    int httpPort = kv(serving, "httpPort");

    HttpResponse<String> ready =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/readyz"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(ready.statusCode()).isEqualTo(200);

    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    try {
      var stub = TrafficRouterGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
      assertThat(stub.type(TypeRequest.newBuilder().setCaller(caller()).build()).getType())
          .isEqualTo(GatewayApiTrafficRouter.TYPE);
      stub.setWeight(
          SetWeightRequest.newBuilder()
              .setCaller(caller())
              .setRollout(rolloutIn(ns))
              .setDesiredWeight(10)
              .build());
      assertThat(weights(client, ns)).containsExactly(90L, 10L);
    } finally {
      channel.shutdownNow();
    }

    // SIGTERM. Not Process.destroy(): it also closes our ends of the pipes, losing the last logs.
    assertThat(run.process().toHandle().destroy()).isTrue();

    assertThat(run.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(run.process().exitValue()).isEqualTo(143);
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () ->
                assertThat(line(run, "stopped"))
                    .as(
                        "stdout:%n%s%nstderr:%n%s",
                        String.join("\n", run.stdout()), String.join("\n", run.stderr()))
                    .isPresent());
    assertThat(line(run, "Type OK in")).isPresent();
    for (String stdout : run.stdout()) {
      JsonNode line = JSON.readTree(stdout);
      // Flat fields: RFC 3339 time, level, msg, then one key per field.
      assertThat(java.time.OffsetDateTime.parse(line.path("time").asText())).as(stdout).isNotNull();
      assertThat(line.path("level").isTextual()).as(stdout).isTrue();
      assertThat(line.path("msg").isTextual()).as(stdout).isTrue();
      assertThat(line.has("kvpList") || line.has("formattedMessage")).as(stdout).isFalse();
    }
    assertThat(run.stderr()).isEmpty();
  }

  @Test
  @DisplayName(
      "When the API server is unreachable, then it stays ready, answers UNAVAILABLE and says so in"
          + " a metric")
  void unreachableApiServer(@TempDir Path dir) throws Exception {
    Path kubeconfig =
        Files.writeString(
            dir.resolve("kubeconfig"),
            """
            apiVersion: v1
            kind: Config
            clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1"}}]
            users: [{name: me, user: {token: abc}}]
            contexts: [{name: gone, context: {cluster: gone, user: me}}]
            current-context: gone
            """);
    Run run =
        run(
            "--kubeconfig=" + kubeconfig,
            "--grpc-port=0",
            "--http-port=0",
            "--bind-address=127.0.0.1",
            "--log-format=json",
            "--auth-mode=none");
    JsonNode serving =
        await()
            .atMost(30, TimeUnit.SECONDS)
            .until(() -> line(run, "serving gRPC on"), Optional::isPresent)
            .orElseThrow();
    int grpcPort = kv(serving, "grpcPort");
    int httpPort = kv(serving, "httpPort");
    HttpClient http = HttpClient.newHttpClient();

    assertThat(get(http, httpPort, "/readyz").statusCode()).isEqualTo(200);
    await()
        .atMost(30, TimeUnit.SECONDS)
        .untilAsserted(
            () ->
                assertThat(get(http, httpPort, "/metrics").body())
                    .contains("weighbridge_kubernetes_api_up 0.0"));
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    try {
      var stub = TrafficRouterGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
      assertThatThrownBy(
              () ->
                  stub.setWeight(
                      SetWeightRequest.newBuilder()
                          .setCaller(caller())
                          .setRollout(rolloutIn("demo"))
                          .setDesiredWeight(10)
                          .build()))
          .satisfies(
              thrown ->
                  assertThat(Status.fromThrowable(thrown).getCode())
                      .as(Status.fromThrowable(thrown).toString())
                      .isEqualTo(Status.Code.UNAVAILABLE));
    } finally {
      channel.shutdownNow();
    }
    assertThat(get(http, httpPort, "/readyz").statusCode()).isEqualTo(200);
  }

  @Test
  @DisplayName(
      "When started with --auth-mode=tokenreview, then only the allowed service account's token"
          + " passes, others are refused with the reason, and refusals are counted")
  void tokenReviewAdmitsOnlyAllowedServiceAccounts(KubeApiServer apiServer, TestNamespace namespace)
      throws Exception {
    String ns = namespace.name();
    String allowed = apiServer.serviceAccountConfig(ns, "rollouts-controller").getOauthToken();
    String other = apiServer.serviceAccountConfig(ns, "intruder").getOauthToken();
    Run run =
        run(
            "--kubeconfig=" + apiServer.kubeconfig(),
            "--grpc-port=0",
            "--http-port=0",
            "--bind-address=127.0.0.1",
            "--log-format=json",
            "--auth-mode=tokenreview",
            "--allowed-service-accounts=" + ns + ":rollouts-controller");
    JsonNode serving =
        await()
            .atMost(30, TimeUnit.SECONDS)
            .until(() -> line(run, "serving gRPC on"), Optional::isPresent)
            .orElseThrow();
    int grpcPort = kv(serving, "grpcPort");
    int httpPort = kv(serving, "httpPort");
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    try {
      TypeRequest type = TypeRequest.newBuilder().setCaller(caller()).build();
      var anonymous =
          TrafficRouterGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
      assertThat(codeAndMessage(() -> anonymous.type(type)))
          .startsWith("UNAUTHENTICATED: plugin-server requires a bearer token");
      assertThat(codeAndMessage(() -> withToken(anonymous, other).type(type)))
          .startsWith("PERMISSION_DENIED: service account " + ns + ":intruder may not call");
      assertThat(codeAndMessage(() -> withToken(anonymous, "not-a-token").type(type)))
          .startsWith("UNAUTHENTICATED: the cluster's TokenReview did not accept");
      assertThat(withToken(anonymous, allowed).type(type).getType())
          .isEqualTo(GatewayApiTrafficRouter.TYPE);
    } finally {
      channel.shutdownNow();
    }
    String metrics = get(HttpClient.newHttpClient(), httpPort, "/metrics").body();
    assertThat(metrics)
        .contains("weighbridge_auth_refused_total{reason=\"missing_token\"} 1.0")
        .contains("weighbridge_auth_refused_total{reason=\"not_allowed\"} 1.0")
        .contains("weighbridge_auth_refused_total{reason=\"invalid_token\"} 1.0");
    // The tokens never reach the log.
    assertThat(String.join("\n", run.stdout())).doesNotContain(allowed).doesNotContain(other);
  }

  private static <S extends io.grpc.stub.AbstractStub<S>> S withToken(S stub, String token) {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(
        io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    return stub.withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static String codeAndMessage(Runnable call) {
    try {
      call.run();
      return "OK";
    } catch (RuntimeException e) {
      Status status = Status.fromThrowable(e);
      return status.getCode() + ": " + status.getDescription();
    }
  }

  private static HttpResponse<String> get(HttpClient http, int port, String path)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The traefik example's HTTPRoute, in {@code ns}. */
  private static GenericKubernetesResource route(String ns) {
    GenericKubernetesResource route = new GenericKubernetesResource();
    route.setApiVersion("gateway.networking.k8s.io/v1");
    route.setKind("HTTPRoute");
    route.setMetadata(new ObjectMetaBuilder().withNamespace(ns).withName("app-route").build());
    route.setAdditionalProperty(
        "spec",
        Map.of(
            "parentRefs",
            List.of(Map.of("name", "traefik-gateway")),
            "rules",
            List.of(
                Map.of(
                    "backendRefs",
                    List.of(
                        Map.of("name", "argo-rollouts-stable-service", "port", 80),
                        Map.of("name", "argo-rollouts-canary-service", "port", 80))))));
    return route;
  }

  private static List<Long> weights(KubernetesClient client, String ns) {
    GenericKubernetesResource stored =
        client
            .genericKubernetesResources("gateway.networking.k8s.io/v1", "HTTPRoute")
            .inNamespace(ns)
            .withName("app-route")
            .get();
    JsonNode json = JSON.valueToTree(stored.getAdditionalProperties());
    List<Long> weights = new ArrayList<>();
    json.at("/spec/rules/0/backendRefs").forEach(b -> weights.add(b.path("weight").asLong()));
    return weights;
  }

  private static io.weighbridge.contract.v1.Rollout rolloutIn(String ns) {
    String json =
        """
        {"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout",
         "metadata":{"namespace":"%s","name":"app","uid":"uid-1","generation":1},
         "spec":{"strategy":{"canary":{
           "canaryService":"argo-rollouts-canary-service",
           "stableService":"argo-rollouts-stable-service",
           "trafficRouting":{"plugins":{"weighbridge/gateway-api":{"httpRoute":"app-route"}}}}}}}
        """
            .formatted(ns);
    return io.weighbridge.contract.v1.Rollout.newBuilder()
        .setNamespace(ns)
        .setName("app")
        .setUid("uid-1")
        .setGeneration(1)
        .setJson(ByteString.copyFrom(json, StandardCharsets.UTF_8))
        .build();
  }

  private static Optional<JsonNode> line(Run run, String messageStart) throws IOException {
    for (String stdout : run.stdout()) {
      JsonNode node = JSON.readTree(stdout);
      if (node.path("msg").asText().startsWith(messageStart)) {
        return Optional.of(node);
      }
    }
    return Optional.empty();
  }

  private static int kv(JsonNode line, String key) {
    if (line.has(key)) {
      return Integer.parseInt(line.get(key).asText());
    }
    throw new AssertionError("no " + key + " in " + line);
  }
}
