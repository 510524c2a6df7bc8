package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
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
        .hasMessageContaining(ControlPlaneBinaries.BIN_ENV)
        .hasMessageContaining(UpstreamFiles.DIR_ENV);
  }

  private static Path checkout(Path root) throws Exception {
    Path script = root.resolve(Checkout.BUILD_SCRIPT);
    Files.createDirectories(script.getParent());
    Files.writeString(script, "#!/bin/sh\n");
    return root;
  }
}
