package io.weighbridge.cli;

import io.weighbridge.domain.WeighbridgeException;
import java.io.PrintWriter;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The operator CLI inside the plugin-server jar: {@code status}, {@code plan} and {@code
 * connector-config}. plugin-server's {@code Main} hands over when the first argument names one of
 * them. Exit codes: 0 done, 1 failed (the cluster, the server or the engine said no), 2 bad usage.
 */
@Command(
    name = "java -jar weighbridge-plugin-server.jar",
    description = {
      "Weighbridge operator commands (run as java -jar weighbridge-plugin-server.jar <command>).",
      "Without a command the jar starts plugin-server itself (see its --help)."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:done", "1:failed (cluster, server or engine refused)", "2:bad usage"})
public final class Cli {

  @picocli.CommandLine.Mixin HelpOption help;

  /** The commands {@code Main} hands over to this CLI. */
  public static final List<String> COMMANDS = List.of("status", "plan", "connector-config");

  /** Default plugin names, as plugin-server accepts them. */
  static final String DEFAULT_PLUGIN_NAMES = "weighbridge/gateway-api,argoproj-labs/gatewayAPI";

  private final HttpClient http;

  /** Uses {@code http} for plugin-server's HTTP endpoints. */
  public Cli(HttpClient http) {
    this.http = http;
  }

  /** True when {@code args} start with one of {@link #COMMANDS}. */
  public static boolean isCommand(String[] args) {
    return args.length > 0 && COMMANDS.contains(args[0]);
  }

  /** Runs the CLI as a process would: logs to stderr at warn, then {@link #run}. */
  public static int execute(String[] args) {
    CliLogging.configure();
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    PrintWriter out = new PrintWriter(System.out, true);
    PrintWriter err = new PrintWriter(System.err, true);
    return new Cli(http).run(args, out, err);
  }

  /** Runs one command; returns its exit code. */
  public int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cli = commandLine();
    cli.setOut(out);
    cli.setErr(err);
    int code = cli.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  /** The command tree with its subcommands. */
  CommandLine commandLine() {
    CommandLine cli = new CommandLine(this);
    cli.addSubcommand("status", new StatusCommand(http));
    cli.addSubcommand("plan", new PlanCommand());
    cli.addSubcommand("connector-config", new ConnectorConfigCommand(http));
    cli.setUsageHelpWidth(100); // after adding: picocli applies it to the subcommands present
    // --connector-arg=--token-file=... and --connector-arg=--plugin-name=... pass connector flags
    // whose names are also connector-config's own options: take them as values, not options
    cli.getSubcommands().get("connector-config").setAllowOptionsAsOptionParameters(true);
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          PrintWriter err = commandLine.getErr();
          if (e instanceof CliException
              || e instanceof WeighbridgeException
              || e instanceof IllegalArgumentException
              || e instanceof IllegalStateException) {
            err.println("weighbridge " + commandLine.getCommandName() + ": " + e.getMessage());
          } else {
            err.println("weighbridge " + commandLine.getCommandName() + ": unexpected failure:");
            e.printStackTrace(err);
          }
          return 1;
        });
    cli.setParameterExceptionHandler(
        (e, args) -> {
          CommandLine commandLine = e.getCommandLine();
          PrintWriter err = commandLine.getErr();
          err.println("weighbridge " + commandLine.getCommandName() + ": " + e.getMessage());
          err.println("Run " + commandLine.getCommandName() + " --help for the usage.");
          return 2;
        });
    return cli;
  }
}
