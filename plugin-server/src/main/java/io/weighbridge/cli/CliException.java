package io.weighbridge.cli;

/**
 * A command failed for a reason the operator can act on (exit code 1); the message says what and
 * how to fix it. Bad flags are picocli's ParameterException instead (exit code 2).
 */
final class CliException extends RuntimeException {

  CliException(String message) {
    super(message);
  }

  CliException(String message, Throwable cause) {
    super(message, cause);
  }
}
