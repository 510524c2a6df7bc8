package io.weighbridge.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one of the checkout's cache scripts ({@code testkit/controlplane/build.sh}, {@code
 * testkit/upstream/resolve.sh}): each narrates on stderr (relayed to the log as it comes, since a
 * cold run takes long) and prints the cached folder on stdout.
 */
final class CacheScript {
  private static final Logger log = LoggerFactory.getLogger(CacheScript.class);

  private CacheScript() {}

  /**
   * Runs {@code script} in its own folder and returns the folder it printed; {@code instead} tells
   * what to do when it fails (e.g. which variable names a prepared folder).
   */
  static Path run(Path script, Duration timeout, String instead) {
    Process process;
    try {
      process =
          new ProcessBuilder("bash", script.toString())
              .directory(script.getParent().toFile())
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .start();
    } catch (IOException e) {
      throw new ControlPlaneException("cannot run " + script + ": " + e.getMessage(), e);
    }
    Deque<String> lastLines = new ArrayDeque<>();
    Thread relay =
        Thread.ofPlatform()
            .daemon()
            .name("cache-script-log")
            .start(() -> relay(process.getErrorStream(), lastLines));
    String printed;
    try (InputStream stdout = process.getInputStream()) {
      printed = new String(stdout.readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!process.waitFor(timeout.toMinutes(), TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new ControlPlaneException(
            script + " did not finish within " + timeout.toMinutes() + " minutes");
      }
      relay.join(TimeUnit.SECONDS.toMillis(5));
    } catch (IOException e) {
      throw new ControlPlaneException("cannot read the output of " + script, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroy();
      throw new ControlPlaneException("interrupted while waiting for " + script, e);
    }
    if (process.exitValue() != 0 || printed.isEmpty()) {
      String tail;
      synchronized (lastLines) {
        tail = String.join("\n", lastLines);
      }
      throw new ControlPlaneException(
          script
              + " failed (exit "
              + process.exitValue()
              + "); run it by hand to see why, or "
              + instead
              + ". Its last output:\n"
              + tail);
    }
    return Path.of(printed);
  }

  private static void relay(InputStream stderr, Deque<String> lastLines) {
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(stderr, StandardCharsets.UTF_8))) {
      for (String line; (line = reader.readLine()) != null; ) {
        log.info("{}", line);
        synchronized (lastLines) {
          lastLines.addLast(line);
          if (lastLines.size() > 40) {
            lastLines.removeFirst();
          }
        }
      }
    } catch (IOException e) {
      log.debug("stopped relaying the script's log", e);
    }
  }
}
