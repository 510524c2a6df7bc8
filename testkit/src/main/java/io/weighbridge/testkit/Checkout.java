package io.weighbridge.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the Weighbridge checkout is, and its scripts that fill the cache. */
final class Checkout {
  /**
   * The control-plane build script, relative to the repository root; its presence marks the root.
   */
  static final String BUILD_SCRIPT = "testkit/controlplane/build.sh";

  /** The script that resolves the upstream CRDs and manifests, relative to the repository root. */
  static final String UPSTREAM_SCRIPT = "testkit/upstream/resolve.sh";

  private Checkout() {}

  /** Walks up from {@code start} to the first folder holding {@value #BUILD_SCRIPT}. */
  static Path repoRoot(Path start) {
    for (Path dir = start.toAbsolutePath().normalize(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve(BUILD_SCRIPT))) {
        return dir;
      }
    }
    throw new ControlPlaneException(
        "cannot find the Weighbridge checkout: no folder at or above "
            + start.toAbsolutePath()
            + " holds "
            + BUILD_SCRIPT
            + "; run the tests from inside the checkout, or set "
            + ControlPlaneBinaries.BIN_ENV
            + " and "
            + UpstreamFiles.DIR_ENV);
  }
}
