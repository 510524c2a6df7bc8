package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckoutTest {
  @TempDir Path tmp;

  @Test
  @DisplayName(
      "When started below the checkout, then the root is the folder holding the build script")
  void findsRootFromBelow() throws Exception {
    Path root = checkout(tmp.resolve("wt/testkit"));
    Path deep = Files.createDirectories(root.resolve("plugin-server/target"));

    assertThat(Checkout.repoRoot(deep)).isEqualTo(root);
  }

  @Test
  @DisplayName("When no folder above holds the build script, then the error says what to set")
  void explainsMissingCheckout() {
    assertThatThrownBy(() -> Checkout.repoRoot(tmp))
        .isInstanceOf(ControlPlaneException.class)
        .hasMessageContaining(Checkout.BUILD_SCRIPT)
        .hasMessageContaining(ControlPlaneBinaries.BIN_ENV);
  }

  @Test
  @DisplayName("When shared/ is two levels up (worktrees), then it is found there")
  void findsSharedBesideWorktrees() throws Exception {
    Path root = checkout(tmp.resolve("wt/testkit"));
    Path shared = Files.createDirectories(tmp.resolve("shared/crds")).getParent();

    assertThat(Checkout.sharedDir(Map.of(), root)).isEqualTo(shared);
  }

  @Test
  @DisplayName("When shared/ is beside the clone (CI), then it wins over one further up")
  void prefersSharedBesideClone() throws Exception {
    Path root = checkout(tmp.resolve("ci/clone"));
    Path beside = Files.createDirectories(tmp.resolve("ci/shared/crds")).getParent();
    Files.createDirectories(tmp.resolve("shared/crds"));

    assertThat(Checkout.sharedDir(Map.of(), root)).isEqualTo(beside);
  }

  @Test
  @DisplayName("When WEIGHBRIDGE_SHARED names a folder without crds/, then that is the error")
  void rejectsEnvWithoutCrds() {
    assertThatThrownBy(() -> Checkout.sharedDir(Map.of(Checkout.SHARED_ENV, tmp.toString()), tmp))
        .isInstanceOf(ControlPlaneException.class)
        .hasMessageContaining("no crds/ folder");
  }

  private static Path checkout(Path root) throws Exception {
    Path script = root.resolve(Checkout.BUILD_SCRIPT);
    Files.createDirectories(script.getParent());
    Files.writeString(script, "#!/bin/sh\n");
    return root;
  }
}
