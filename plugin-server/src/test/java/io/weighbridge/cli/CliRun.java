package io.weighbridge.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpClient;

/**
 * One in-process run of the operator CLI as the tests see it.
 *
 * @param code the exit code
 * @param out what the command printed on standard output
 * @param err what the command printed on standard error
 */
public record CliRun(int code, String out, String err) {

  /** Runs {@code args} through {@link Cli}, which makes its HTTP calls with {@code http}. */
  public static CliRun of(HttpClient http, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = new Cli(http).run(args, new PrintWriter(out), new PrintWriter(err));
    return new CliRun(code, out.toString(), err.toString());
  }

  /** Runs {@code args} through {@link Cli} with a new HTTP client. */
  public static CliRun of(String... args) {
    return of(HttpClient.newHttpClient(), args);
  }
}
