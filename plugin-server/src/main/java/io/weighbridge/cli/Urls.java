package io.weighbridge.cli;

import java.net.URI;
import java.net.URISyntaxException;

/** Checks and joins the {@code --server-url} the commands take. */
final class Urls {
  private Urls() {}

  /**
   * Parses an http(s) base URL.
   *
   * @throws IllegalArgumentException naming the flag and the accepted form
   */
  static URI serverUrl(String value) {
    try {
      URI uri = new URI(value.strip());
      String scheme = uri.getScheme();
      if (scheme == null
          || !(scheme.equals("http") || scheme.equals("https"))
          || uri.getHost() == null) {
        throw new URISyntaxException(value, "not an http(s) URL with a host");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "--server-url: invalid value '"
              + value
              + "': expected plugin-server's HTTP URL, e.g."
              + " http://weighbridge.argo-rollouts.svc:8080");
    }
  }

  /** An I/O failure in words: some (a refused connection) carry no message, only a type. */
  static String describe(java.io.IOException e) {
    String type = e.getClass().getSimpleName();
    return e.getMessage() == null || e.getMessage().isBlank() ? type : type + ": " + e.getMessage();
  }

  /** {@code base} with {@code path} appended to its path (a trailing slash is not doubled). */
  static URI resolve(URI base, String path) {
    String s = base.toString();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return URI.create(s + path);
  }
}
