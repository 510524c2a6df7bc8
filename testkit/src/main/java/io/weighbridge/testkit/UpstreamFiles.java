package io.weighbridge.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The upstream files the tests install: the Gateway API and Argo Rollouts CRD bundles ({@code
 * crds/<bundle>.yaml}) and Argo Rollouts' install manifest ({@code manifests/<name>.yaml}), taken
 * from the Go modules pinned (with their checksums) in {@code testkit/upstream/go.sum}. {@code
 * testkit/upstream/resolve.sh} downloads and verifies them into {@code $WEIGHBRIDGE_CACHE} once and
 * prints the folder; a warm cache returns at once.
 */
public record UpstreamFiles(Path dir) {
  /** A folder laid out as resolve.sh prints (crds/, manifests/); skips the script entirely. */
  public static final String DIR_ENV = "WEIGHBRIDGE_UPSTREAM";

  /** Argo Rollouts' own install manifest (manifests/install.yaml of the pinned release). */
  public static final String ARGO_ROLLOUTS_INSTALL = "argo-rollouts-v1.9.1-install";

  /** A cold run downloads five Go modules (about 30 MB). */
  private static final Duration RESOLVE_TIMEOUT = Duration.ofMinutes(10);

  /** {@code dir} must hold a {@code crds/} folder. */
  public UpstreamFiles {
    if (!Files.isDirectory(dir.resolve("crds"))) {
      throw new ControlPlaneException(
          dir
              + " has no crds/ folder; point "
              + DIR_ENV
              + " at a folder that "
              + Checkout.UPSTREAM_SCRIPT
              + " printed, or unset it");
    }
  }

  /** Finds the files for this process's environment and working directory. */
  public static UpstreamFiles locate() {
    return locate(System.getenv(), Path.of(""));
  }

  /**
   * Uses {@value #DIR_ENV} if set; otherwise runs the checkout's {@code
   * testkit/upstream/resolve.sh}.
   */
  public static UpstreamFiles locate(Map<String, String> env, Path workingDir) {
    String prepared = env.get(DIR_ENV);
    if (prepared != null && !prepared.isBlank()) {
      return new UpstreamFiles(Path.of(prepared).toAbsolutePath());
    }
    return new UpstreamFiles(
        CacheScript.run(
            Checkout.repoRoot(workingDir).resolve(Checkout.UPSTREAM_SCRIPT),
            RESOLVE_TIMEOUT,
            "set " + DIR_ENV + " to a folder it printed before"));
  }

  /** The CRD bundles. */
  public Crds crds() {
    return new Crds(dir.resolve("crds"));
  }

  /**
   * The manifest {@code name} (e.g. {@value #ARGO_ROLLOUTS_INSTALL}); a clear error when missing.
   */
  public Path manifest(String name) {
    Path file = dir.resolve("manifests").resolve(name + ".yaml");
    if (!Files.isRegularFile(file)) {
      throw new ControlPlaneException(
          "no manifest '"
              + name
              + "' in "
              + file.getParent()
              + "; see "
              + Checkout.UPSTREAM_SCRIPT);
    }
    return file;
  }
}
