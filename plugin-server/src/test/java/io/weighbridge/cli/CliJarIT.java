package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar as an operator runs it: {@code java -jar weighbridge-plugin-server.jar
 * <command>} reaches the CLI through {@code Main}, stdout carries only the output, and the process
 * exits with the CLI's code.
 */
class CliJarIT {

  private record Result(int code, String out, String err) {}

  private static Result java(String... args) throws IOException, InterruptedException {
    Path jar = Path.of(System.getProperty("weighbridge.server.jar", "target/missing.jar"));
    assertThat(jar).as("run through Maven (failsafe sets weighbridge.server.jar)").exists();
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).start();
    p.getOutputStream().close();
    var out = p.getInputStream().readAllBytes();
    var err = p.getErrorStream().readAllBytes();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the CLI exits").isTrue();
    return new Result(
        p.exitValue(),
        new String(out, StandardCharsets.UTF_8),
        new String(err, StandardCharsets.UTF_8));
  }

  @Test
  @DisplayName(
      "When the jar gets connector-config with a local connector file, then Main hands over and"
          + " prints only the registration, exit 0")
  void connectorConfigThroughMain(@TempDir Path dir) throws Exception {
    Path connector = dir.resolve("weighbridge-connector");
    Files.writeString(connector, "binary");

    Result r = java("connector-config", "--connector-file", connector.toString(), "-o", "helm");

    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out())
        .startsWith("# The same as values of the argo-rollouts Helm chart")
        .contains("location: \"http://weighbridge.argo-rollouts.svc:8080/connector/linux-amd64\"")
        // sha256("binary")
        .contains("sha256: \"9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd\"");
  }

  @Test
  @DisplayName("When the jar gets a bad CLI flag, then it exits 2 with the message on stderr only")
  void badUsageThroughMain() throws Exception {
    Result r = java("status", "--server-url", "nope");

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).contains("weighbridge status: --server-url: invalid value 'nope'");
  }

  @Test
  @DisplayName("When the jar gets a flag first, then it is still the server (its --help)")
  void serverStillStarts() throws Exception {
    Result r = java("--help");

    assertThat(r.code()).isZero();
    assertThat(r.out())
        .startsWith("Usage: java -jar weighbridge-plugin-server.jar ")
        .contains("--grpc-port=")
        .contains("Weighbridge plugin-server: serves the Weighbridge gRPC contract");
  }
}
