package io.weighbridge.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where the Weighbridge checkout and the shared/ folder beside it are, found the way CONTEXT.md
 * fixes.
 */
final class Checkout {
  /**
   * The control-plane build script, relative to the repository root; its presence marks the root.
   */
  static final String BUILD_SCRIPT = "testkit/controlplane/build.sh";

  /** Overrides where shared/ (with its crds/ folder) is. */
  static final String SHARED_ENV = "WEIGHBRIDGE_SHARED";

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
            + SHARED_ENV);
  }

  /**
   * The shared folder: {@value #SHARED_ENV} if set, else the first of {@code <root>/../shared} and
   * {@code <root>/../../shared} that has a {@code crds/} folder.
   */
  static Path sharedDir(Map<String, String> env, Path workingDir) {
    String fromEnv = env.get(SHARED_ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      Path dir = Path.of(fromEnv).toAbsolutePath();
      if (!Files.isDirectory(dir.resolve("crds"))) {
        throw new ControlPlaneException(
            SHARED_ENV + "=" + fromEnv + " has no crds/ folder; point it at the shared folder");
      }
      return dir;
    }
    Path root = repoRoot(workingDir);
    Path parent = root.getParent() == null ? root : root.getParent();
    List<Path> candidates = List.of(root.resolveSibling("shared"), parent.resolveSibling("shared"));
    return candidates.stream()
        .filter(dir -> Files.isDirectory(dir.resolve("crds")))
        .findFirst()
        .map(Path::normalize)
        .orElseThrow(
            () ->
                new ControlPlaneException(
                    "cannot find the shared folder: none of "
                        + candidates.stream().map(Path::normalize).toList()
                        + " has a crds/ folder; set "
                        + SHARED_ENV
                        + " to it"));
  }
}
