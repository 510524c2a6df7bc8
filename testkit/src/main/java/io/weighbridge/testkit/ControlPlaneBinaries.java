package io.weighbridge.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

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

  /** A cold build downloads and compiles Kubernetes; on two cores that takes many minutes. */
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(45);

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
    return in(
        CacheScript.run(
            Checkout.repoRoot(workingDir).resolve(Checkout.BUILD_SCRIPT),
            BUILD_TIMEOUT,
            "set " + BIN_ENV + " to a folder with prebuilt etcd and kube-apiserver"));
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
