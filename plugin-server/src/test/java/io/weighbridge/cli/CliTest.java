package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CLI's dispatch, help texts and exit codes for bad usage. */
class CliTest {

  @Test
  @DisplayName("When the first argument names a command, then Main hands over; flags do not")
  void dispatch() {
    assertThat(Cli.isCommand(new String[] {"status"})).isTrue();
    assertThat(Cli.isCommand(new String[] {"plan", "web"})).isTrue();
    assertThat(Cli.isCommand(new String[] {"connector-config"})).isTrue();
    assertThat(Cli.isCommand(new String[] {})).isFalse();
    assertThat(Cli.isCommand(new String[] {"--grpc-port=0"})).isFalse();
    assertThat(Cli.isCommand(new String[] {"--help"})).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"status", "plan", "connector-config"})
  @DisplayName("When a command gets --help, then it prints its usage, flags and exit codes")
  void helpPerCommand(String command) {
    CliRun run = CliRun.of(command, "--help");

    assertThat(run.code()).isZero();
    assertThat(run.out())
        .startsWith("Usage: java -jar weighbridge-plugin-server.jar " + command)
        .contains("Exit codes:")
        .contains("2   bad usage");
    if (!command.equals("connector-config")) {
      assertThat(run.out()).contains("--kubeconfig=FILE").contains("--kube-context=NAME");
    }
  }

  @Test
  @DisplayName("When plan lacks --weight or gets a negative one, then it exits 2 and says which")
  void planUsage() {
    CliRun missing = CliRun.of("plan", "web");
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("Missing required option: '--weight=N'");

    CliRun negative = CliRun.of("plan", "web", "--weight", "-1");
    assertThat(negative.code()).isEqualTo(2);
    assertThat(negative.err()).contains("--weight must be 0 or more");

    CliRun format = CliRun.of("status", "-o", "xml");
    assertThat(format.code()).isEqualTo(2);
    assertThat(format.err()).contains("-o").contains("xml");
  }

  @Test
  @DisplayName("When status gets a bad --server-url or -A with -n, then it exits 2 before any call")
  void statusUsage() {
    CliRun url = CliRun.of("status", "--server-url", "localhost:8080");
    assertThat(url.code()).isEqualTo(2);
    assertThat(url.err()).contains("--server-url: invalid value 'localhost:8080'");

    CliRun both = CliRun.of("status", "-A", "-n", "shop");
    assertThat(both.code()).isEqualTo(2);
    assertThat(both.err()).contains("-A/--all-namespaces goes with neither -n nor a ROLLOUT name");
  }
}
