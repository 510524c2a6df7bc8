package io.weighbridge.cli;

import picocli.CommandLine.Option;

/** {@code -h/--help} on every command (no {@code --version}: the jar's version is the server's). */
final class HelpOption {

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "print this text and exit")
  boolean help;
}
