package io.weighbridge.adapter.metrics;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The running build, as {@code weighbridge_build_info{version,revision}} shows it.
 *
 * @param version the release ({@code git describe}), or {@code dev}
 * @param revision the git commit, or {@code unknown}
 */
public record BuildInfo(String version, String revision) {

  /** The manifest attribute that carries the revision. */
  public static final String REVISION_ATTRIBUTE = "Weighbridge-Revision";

  /** Rejects missing values. */
  public BuildInfo {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(revision, "revision");
  }

  /**
   * The build of the jar that holds {@code type}: its manifest's {@code Implementation-Version} and
   * {@value #REVISION_ATTRIBUTE} (written by the Maven build); {@code dev}/{@code unknown} when run
   * from classes, as in tests.
   */
  public static BuildInfo of(Class<?> type) {
    String version = "dev";
    String revision = "unknown";
    try {
      var source = type.getProtectionDomain().getCodeSource();
      Path jar = source == null ? null : Path.of(source.getLocation().toURI());
      if (jar != null && Files.isRegularFile(jar)) {
        try (JarFile file = new JarFile(jar.toFile())) {
          Manifest manifest = file.getManifest();
          if (manifest != null) {
            Attributes main = manifest.getMainAttributes();
            version = orElse(main.getValue(Attributes.Name.IMPLEMENTATION_VERSION), version);
            revision = orElse(main.getValue(REVISION_ATTRIBUTE), revision);
          }
        }
      }
    } catch (IOException | URISyntaxException | RuntimeException e) {
      // run from classes, or an unreadable jar: dev/unknown
    }
    return new BuildInfo(version, revision);
  }

  private static String orElse(String value, String fallback) {
    return value == null || value.isBlank() ? fallback : value.trim();
  }
}
