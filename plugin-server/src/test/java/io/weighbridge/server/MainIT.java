package io.weighbridge.server;

import static io.weighbridge.fixtures.Requests.caller;
import static io.weighbridge.fixtures.Requests.rollout;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.weighbridge.contract.v1.SetWeightRequest;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The packaged jar started as {@code make run} starts it: flags, logs, serving, SIGTERM. */
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
  @DisplayName("When started with JSON logs, then it serves honestly and stops on SIGTERM")
  void servesAndStopsOnSigterm() throws Exception {
    Run run =
        run(
            "--grpc-port=0",
            "--http-port=0",
            "--bind-address=127.0.0.1",
            "--log-format=json",
            "--log-level=debug");
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
          .isEqualTo("Weighbridge");
      assertThatThrownBy(
              () ->
                  stub.setWeight(
                      SetWeightRequest.newBuilder()
                          .setCaller(caller())
                          .setRollout(rollout())
                          .setDesiredWeight(10)
                          .build()))
          .satisfies(
              thrown -> {
                assertThat(Status.fromThrowable(thrown).getCode())
                    .isEqualTo(Status.Code.UNIMPLEMENTED);
                assertThat(Status.fromThrowable(thrown).getDescription())
                    .startsWith("SetWeight is not implemented by this plugin-server build yet");
              });
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
      assertThat(JSON.readTree(stdout).has("level")).as(stdout).isTrue();
    }
    assertThat(run.stderr()).isEmpty();
  }

  private static Optional<JsonNode> line(Run run, String messageStart) throws IOException {
    for (String stdout : run.stdout()) {
      JsonNode node = JSON.readTree(stdout);
      if (node.path("formattedMessage").asText().startsWith(messageStart)) {
        return Optional.of(node);
      }
    }
    return Optional.empty();
  }

  private static int kv(JsonNode line, String key) {
    for (JsonNode pair : line.path("kvpList")) {
      if (pair.has(key)) {
        return Integer.parseInt(pair.get(key).asText());
      }
    }
    throw new AssertionError("no " + key + " in " + line);
  }
}
