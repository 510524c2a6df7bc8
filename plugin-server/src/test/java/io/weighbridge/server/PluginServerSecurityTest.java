package io.weighbridge.server;

import static io.weighbridge.fixtures.Requests.caller;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.grpc.testing.TlsTesting;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.domain.UnauthenticatedException;
import io.weighbridge.domain.auth.Authenticator;
import io.weighbridge.domain.auth.Identity;
import io.weighbridge.fixtures.RecordingRouter;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Authentication of gRPC callers, TLS on the gRPC port, and the connector downloads over HTTP. */
class PluginServerSecurityTest {
  private static final TypeRequest TYPE = TypeRequest.newBuilder().setCaller(caller()).build();

  private final RecordingRouter router = new RecordingRouter().type("Secured");
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final List<AutoCloseable> open = new ArrayList<>();

  /** The cluster's answers: two valid tokens, everything else rejected. */
  private final Authenticator cluster =
      token ->
          switch (token) {
            case "argo" ->
                new Identity(
                    "system:serviceaccount:argo-rollouts:argo-rollouts",
                    List.of("system:serviceaccounts", "system:serviceaccounts:argo-rollouts"));
            case "other" ->
                new Identity(
                    "system:serviceaccount:default:other",
                    List.of("system:serviceaccounts", "system:serviceaccounts:default"));
            default -> throw new UnauthenticatedException("token expired");
          };

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
  }

  private ServerConfig config(String... args) {
    List<String> all =
        new ArrayList<>(List.of("--grpc-port=0", "--http-port=0", "--bind-address=127.0.0.1"));
    all.addAll(List.of(args));
    return ServerConfig.parse(all.toArray(String[]::new), Map.of());
  }

  private ManagedChannel inProcessServer(ServerConfig config) {
    String name = InProcessServerBuilder.generateName();
    PluginServer server =
        new PluginServer(config, router, registry, cluster, InProcessServerBuilder.forName(name));
    open.add(server);
    server.start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    open.add(channel::shutdownNow);
    return channel;
  }

  private static <S extends AbstractStub<S>> S bearer(S stub, String authorization) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static String outcome(Runnable call) {
    try {
      call.run();
      return "OK";
    } catch (RuntimeException e) {
      Status status = Status.fromThrowable(e);
      return status.getCode() + ": " + status.getDescription();
    }
  }

  @Test
  @DisplayName(
      "When auth is tokenreview, then only the allowed service account's calls reach the router")
  void tokenReviewAdmitsOnlyAllowed() {
    ManagedChannel channel = inProcessServer(config("--auth-mode=tokenreview"));
    var stub = TrafficRouterGrpc.newBlockingStub(channel);

    assertThat(outcome(() -> stub.type(TYPE)))
        .startsWith("UNAUTHENTICATED: plugin-server requires a bearer token");
    assertThat(outcome(() -> bearer(stub, "Bearer expired").type(TYPE)))
        .isEqualTo("UNAUTHENTICATED: token expired");
    assertThat(outcome(() -> bearer(stub, "Basic abc").type(TYPE)))
        .startsWith("UNAUTHENTICATED: the call's authorization header is not 'Bearer <token>'");
    assertThat(outcome(() -> bearer(stub, "Bearer other").type(TYPE)))
        .startsWith("PERMISSION_DENIED: service account default:other may not call plugin-server");
    assertThat(router.calls()).isEmpty();
    assertThat(bearer(stub, "Bearer argo").type(TYPE).getType()).isEqualTo("Secured");
    assertThat(router.calls()).hasSize(1);

    assertThat(refused("missing_token")).isEqualTo(1.0);
    assertThat(refused("invalid_token")).isEqualTo(1.0);
    assertThat(refused("malformed_token")).isEqualTo(1.0);
    assertThat(refused("not_allowed")).isEqualTo(1.0);
    assertThat(refused("review_failed")).isZero();
  }

  @Test
  void allowedServiceAccountsAreConfigurable() {
    ManagedChannel channel =
        inProcessServer(
            config("--auth-mode=tokenreview", "--allowed-service-accounts=default:other"));
    var stub = TrafficRouterGrpc.newBlockingStub(channel);

    assertThat(bearer(stub, "Bearer other").type(TYPE).getType()).isEqualTo("Secured");
    assertThat(outcome(() -> bearer(stub, "Bearer argo").type(TYPE)))
        .startsWith("PERMISSION_DENIED: service account argo-rollouts:argo-rollouts may not call");
  }

  @Test
  @DisplayName("When auth is on, then health stays open for probes but reflection is guarded")
  void healthOpenReflectionGuarded() {
    ManagedChannel channel = inProcessServer(config("--auth-mode=tokenreview"));

    assertThat(
            HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.newBuilder().build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    CompletableFuture<Throwable> failed = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse value) {
                    failed.complete(null);
                  }

                  @Override
                  public void onError(Throwable t) {
                    failed.complete(t);
                  }

                  @Override
                  public void onCompleted() {
                    failed.complete(null);
                  }
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());

    await().atMost(5, TimeUnit.SECONDS).until(failed::isDone);
    assertThat(Status.fromThrowable(failed.join()).getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void authModeNoneAdmitsEveryone() {
    ManagedChannel channel = inProcessServer(config("--auth-mode=none"));

    assertThat(TrafficRouterGrpc.newBlockingStub(channel).type(TYPE).getType())
        .isEqualTo("Secured");
  }

  @Test
  @DisplayName("When tokenreview is asked but no authenticator given, then construction fails")
  void tokenReviewNeedsAnAuthenticator() {
    assertThatThrownBy(() -> new PluginServer(config("--auth-mode=tokenreview"), router, registry))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--auth-mode=none");
  }

  private double refused(String reason) {
    return registry.get("weighbridge.auth.refused").tag("reason", reason).counter().count();
  }

  // --- TLS ---

  private static Path copy(String resource, Path dir) throws IOException {
    Path file = dir.resolve(resource);
    try (InputStream in = TlsTesting.loadCert(resource)) {
      Files.copy(in, file);
    }
    return file;
  }

  private PluginServer tlsServer(Path dir) throws IOException {
    PluginServer server =
        new PluginServer(
            config(
                "--auth-mode=none",
                "--tls-cert-file=" + copy("server1.pem", dir),
                "--tls-key-file=" + copy("server1.key", dir)),
            router,
            registry,
            cluster);
    open.add(server);
    server.start();
    return server;
  }

  private ManagedChannel tlsChannel(int port, String trustedCa) throws IOException {
    try (InputStream ca = TlsTesting.loadCert(trustedCa)) {
      ManagedChannel channel =
          NettyChannelBuilder.forAddress("127.0.0.1", port)
              .sslContext(GrpcSslContexts.forClient().trustManager(ca).build())
              .overrideAuthority("weighbridge.test.google.fr")
              .build();
      open.add(channel::shutdownNow);
      return channel;
    }
  }

  @Test
  @DisplayName("When TLS files are given, then the gRPC port speaks TLS with that certificate")
  void tlsServesWithTheCertificate(@TempDir Path dir) throws IOException {
    PluginServer server = tlsServer(dir);

    var trusting = TrafficRouterGrpc.newBlockingStub(tlsChannel(server.grpcPort(), "ca.pem"));
    assertThat(trusting.withDeadlineAfter(10, TimeUnit.SECONDS).type(TYPE).getType())
        .isEqualTo("Secured");

    var otherCa = TrafficRouterGrpc.newBlockingStub(tlsChannel(server.grpcPort(), "badserver.pem"));
    assertThat(outcome(() -> otherCa.withDeadlineAfter(10, TimeUnit.SECONDS).type(TYPE)))
        .startsWith("UNAVAILABLE");

    ManagedChannel plaintext =
        NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    open.add(plaintext::shutdownNow);
    assertThat(
            outcome(
                () ->
                    TrafficRouterGrpc.newBlockingStub(plaintext)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .type(TYPE)))
        .startsWith("UNAVAILABLE");
  }

  @Test
  @DisplayName("When the TLS files are not a certificate and key, then the error names the flags")
  void badTlsFiles(@TempDir Path dir) throws IOException {
    Path cert = Files.writeString(dir.resolve("tls.crt"), "not a certificate");
    Path key = Files.writeString(dir.resolve("tls.key"), "not a key");

    assertThatThrownBy(
            () ->
                new PluginServer(
                    config("--auth-mode=none", "--tls-cert-file=" + cert, "--tls-key-file=" + key),
                    router,
                    registry,
                    cluster))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("cannot use --tls-cert-file=" + cert + " and --tls-key-file=");
  }

  // --- Connector downloads ---

  private static final byte[] BINARY = "#!fake connector binary\n".repeat(1000).getBytes();

  private int httpServer(Path dir) {
    PluginServer server =
        new PluginServer(
            config("--auth-mode=none", "--connector-dir=" + dir), router, registry, cluster);
    open.add(server);
    server.start();
    return server.httpPort();
  }

  private static HttpResponse<byte[]> get(int port, String path, String method)
      throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
              .method(method, HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.ofByteArray());
    }
  }

  @Test
  @DisplayName(
      "When the connector is asked for, then it streams with its length and its sha256 matches")
  void servesConnectorAndDigest(@TempDir Path dir) throws Exception {
    Files.write(dir.resolve("weighbridge-connector-linux-amd64"), BINARY);
    int port = httpServer(dir);

    HttpResponse<byte[]> binary = get(port, "/connector/linux-amd64", "GET");
    assertThat(binary.statusCode()).isEqualTo(200);
    assertThat(binary.body()).isEqualTo(BINARY);
    assertThat(binary.headers().firstValue("Content-Length")).contains("" + BINARY.length);
    assertThat(binary.headers().firstValue("Content-Type")).contains("application/octet-stream");

    HttpResponse<byte[]> sha = get(port, "/connector/linux-amd64.sha256", "GET");
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(BINARY));
    assertThat(new String(sha.body()))
        .isEqualTo(expected + "  weighbridge-connector-linux-amd64\n");

    HttpResponse<byte[]> head = get(port, "/connector/linux-amd64", "HEAD");
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
  }

  @Test
  @DisplayName("When a platform is absent or the path is odd, then 404 says what is available")
  void unknownPlatformsAndTraversal(@TempDir Path dir) throws Exception {
    Path connectors = Files.createDirectory(dir.resolve("connectors"));
    Files.write(connectors.resolve("weighbridge-connector-linux-amd64"), BINARY);
    Files.write(connectors.resolve("weighbridge-connector-linux-arm64"), BINARY);
    Files.writeString(dir.resolve("secret"), "do not serve");
    int port = httpServer(connectors);

    HttpResponse<byte[]> missing = get(port, "/connector/windows-amd64", "GET");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(new String(missing.body()))
        .isEqualTo(
            "no connector for windows-amd64 in "
                + connectors
                + " (--connector-dir); available: linux-amd64, linux-arm64\n");
    for (String path :
        List.of(
            "/connector/",
            "/connector/../secret",
            "/connector/..%2Fsecret",
            "/connector/linux-amd64/../../secret",
            "/connector/%2e%2e/secret",
            "/connector/Linux-AMD64")) {
      HttpResponse<byte[]> odd = get(port, path, "GET");
      assertThat(odd.statusCode()).as(path).isEqualTo(404);
      assertThat(new String(odd.body())).as(path).doesNotContain("do not serve");
    }
    assertThat(get(port, "/connector/linux-amd64", "POST").statusCode()).isEqualTo(405);
  }

  @Test
  void missingDirectoryIsA404(@TempDir Path dir) throws Exception {
    int port = httpServer(dir.resolve("absent"));

    HttpResponse<byte[]> missing = get(port, "/connector/linux-amd64", "GET");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(new String(missing.body()))
        .contains("available: none (" + dir.resolve("absent") + " cannot be read");
  }
}
