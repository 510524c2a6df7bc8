package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpstreamFilesTest {
  @TempDir Path tmp;

  @Test
  @DisplayName("When WEIGHBRIDGE_UPSTREAM names a folder without crds/, then that is the error")
  void rejectsPreparedFolderWithoutCrds() {
    assertThatThrownBy(
            () -> UpstreamFiles.locate(Map.of(UpstreamFiles.DIR_ENV, tmp.toString()), tmp))
        .isInstanceOf(ControlPlaneException.class)
        .hasMessageContaining("has no crds/ folder")
        .hasMessageContaining(UpstreamFiles.DIR_ENV);
  }

  @Test
  @DisplayName(
      "When WEIGHBRIDGE_UPSTREAM names a prepared folder, then it is used without the script, and"
          + " a missing manifest is named")
  void usesPreparedFolder() throws Exception {
    Files.createDirectories(tmp.resolve("crds"));
    Files.writeString(tmp.resolve("crds/gateway-api-v9.9.9-standard.yaml"), "");

    UpstreamFiles files = UpstreamFiles.locate(Map.of(UpstreamFiles.DIR_ENV, tmp.toString()), tmp);

    assertThat(files.crds().bundles()).containsExactly("gateway-api-v9.9.9-standard");
    assertThatThrownBy(() -> files.manifest(UpstreamFiles.ARGO_ROLLOUTS_INSTALL))
        .isInstanceOf(ControlPlaneException.class)
        .hasMessageContaining("no manifest '" + UpstreamFiles.ARGO_ROLLOUTS_INSTALL + "'");
  }
}
