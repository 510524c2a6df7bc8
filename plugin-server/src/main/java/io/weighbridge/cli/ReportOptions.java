package io.weighbridge.cli;

import java.util.List;
import picocli.CommandLine.Option;

/** The options {@code status} and {@code plan} share: which Rollouts are ours, and how to print. */
final class ReportOptions {

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FORMAT",
      defaultValue = "text",
      description = "text, json or yaml (default: ${DEFAULT-VALUE})")
  OutputFormat output;

  @Option(
      names = "--plugin-names",
      paramLabel = "NAME",
      split = ",",
      defaultValue = Cli.DEFAULT_PLUGIN_NAMES,
      description = "plugins keys that mean Weighbridge (default: ${DEFAULT-VALUE})")
  List<String> pluginNames;
}
