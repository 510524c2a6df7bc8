package io.weighbridge.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The etcd and kube-apiserver executables the tests run: prebuilt ones named by {@value #BIN_ENV},
 * or the ones {@code testkit/controlplane/build.sh} builds into (and then finds in) {@code
 * $WEIGHBRIDGE_CACHE}.
 */
public record ControlPlaneBinaries(Path etcd, Path kubeApiServer) {
  /**
   * A folder holding prebuilt {@code etcd} and {@code kube-apiserver}; skips the Go build entirely.
   */
  public static final String BIN_ENV = "WEIGHBRIDGE_CONTROLPLANE_BIN";

  private static final Logger log = LoggerFactory.getLogger(ControlPlaneBinaries.class);

  /** A cold build downloads and compiles Kubernetes; on two cores that takes many minutes. */
  private static final long BUILD_TIMEOUT_MINUTES = 45;

  /** Both binaries must exist and be executable. */
  public ControlPlaneBinaries {
    requireExecutable(etcd);
    requireExecutable(kubeApiServer);
  }

  /** The binaries in {@code binDir}, named {@code etcd} and {@code kube-apiserver}. */
  public static ControlPlaneBinaries in(Path binDir) {
    return new ControlPlaneBinaries(binDir.resolve("etcd"), binDir.resolve("kube-apiserver"));
  }

  /** Finds the binaries for this process's environment and working directory. */
  public static ControlPlaneBinaries locate() {
    return locate(System.getenv(), Path.of(""));
  }

  /**
   * Uses {@value #BIN_ENV} if set; otherwise runs the checkout's build script, which returns at
   * once when the binaries for the pinned versions are already cached and builds them (for minutes)
   * when they are not.
   */
  public static ControlPlaneBinaries locate(Map<String, String> env, Path workingDir) {
    String prebuilt = env.get(BIN_ENV);
    if (prebuilt != null && !prebuilt.isBlank()) {
      return in(Path.of(prebuilt));
    }
    return in(runBuildScript(Checkout.repoRoot(workingDir).resolve(Checkout.BUILD_SCRIPT)));
  }

  private static Path runBuildScript(Path script) {
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
    // The script narrates on stderr (slow on a cold cache, so relay it as it comes) and prints the
    // bin dir.
    Deque<String> lastLines = new ArrayDeque<>();
    Thread relay =
        Thread.ofPlatform()
            .daemon()
            .name("controlplane-build-log")
            .start(() -> relay(process.getErrorStream(), lastLines));
    String binDir;
    try (InputStream stdout = process.getInputStream()) {
      binDir = new String(stdout.readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!process.waitFor(BUILD_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new ControlPlaneException(
            script + " did not finish within " + BUILD_TIMEOUT_MINUTES + " minutes");
      }
      relay.join(TimeUnit.SECONDS.toMillis(5));
    } catch (IOException e) {
      throw new ControlPlaneException("cannot read the output of " + script, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroy();
      throw new ControlPlaneException("interrupted while waiting for " + script, e);
    }
    if (process.exitValue() != 0 || binDir.isEmpty()) {
      String tail;
      synchronized (lastLines) {
        tail = String.join("\n", lastLines);
      }
      throw new ControlPlaneException(
          script
              + " failed (exit "
              + process.exitValue()
              + "); run it by hand to see why, or set "
              + BIN_ENV
              + " to a folder with prebuilt etcd and kube-apiserver. Its last output:\n"
              + tail);
    }
    return Path.of(binDir);
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
      log.debug("stopped relaying the build log", e);
    }
  }

  private static void requireExecutable(Path file) {
    if (!Files.isRegularFile(file) || !Files.isExecutable(file)) {
      throw new ControlPlaneException(
          file
              + " is not an executable file; run `make controlplane` (or point "
              + BIN_ENV
              + " at a folder with etcd and kube-apiserver)");
    }
  }
}
