package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.client.OAuthTokenProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A kubeconfig user's {@code tokenFile:} (kubectl reads the bearer token from that file, fabric8
 * ignores the field and sends no token: 401 on every request). Found here and given to fabric8 as
 * an {@link OAuthTokenProvider} that reads the file at each request, so a rotated token (a
 * projected ServiceAccount token, a token a sidecar refreshes) is picked up like kubectl does.
 */
final class KubeconfigTokenFile {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private KubeconfigTokenFile() {}

  /**
   * The {@code tokenFile} of the user of {@code context} (or of the current context) in {@code
   * kubeconfig}, resolved against the kubeconfig's folder; empty when the user has none, or has a
   * {@code token} too (kubectl prefers the token).
   *
   * @throws IllegalArgumentException when the token file cannot be read (named, with the fix)
   */
  static Optional<Path> of(Path kubeconfig, Optional<String> context) {
    JsonNode root;
    try {
      root = YAML.readTree(kubeconfig.toFile());
    } catch (IOException e) {
      return Optional.empty(); // fabric8 reports an unreadable kubeconfig its own way
    }
    if (root == null) {
      return Optional.empty();
    }
    String contextName = context.orElse(root.path("current-context").asText(""));
    String user = "";
    for (JsonNode c : root.path("contexts")) {
      if (c.path("name").asText().equals(contextName)) {
        user = c.at("/context/user").asText("");
      }
    }
    for (JsonNode u : root.path("users")) {
      JsonNode info = u.path("user");
      if (!u.path("name").asText().equals(user)
          || !info.hasNonNull("tokenFile")
          || info.hasNonNull("token")) {
        continue;
      }
      Path file = Path.of(info.path("tokenFile").asText());
      Path resolved =
          file.isAbsolute() || kubeconfig.toAbsolutePath().getParent() == null
              ? file
              : kubeconfig.toAbsolutePath().getParent().resolve(file);
      if (!Files.isReadable(resolved)) {
        throw new IllegalArgumentException(
            "kubeconfig "
                + kubeconfig
                + ": user '"
                + user
                + "' names tokenFile "
                + resolved
                + ", which cannot be read; mount that file, or put the token in the kubeconfig"
                + " (token:)");
      }
      return Optional.of(resolved);
    }
    return Optional.empty();
  }

  /** Reads {@code file} at every request (trimmed), so a rotated token is used at once. */
  static OAuthTokenProvider provider(Path file) {
    return () -> {
      try {
        return Files.readString(file).trim();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the kubeconfig tokenFile " + file, e);
      }
    };
  }
}
