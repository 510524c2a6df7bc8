package io.weighbridge.adapter.prometheus;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where and how to reach Prometheus (server-side settings, not per Rollout). Immutable.
 *
 * @param baseUrl e.g. {@code http://prometheus.monitoring:9090}; {@code /api/v1/query} is appended
 *     to its path
 * @param headers extra request headers (bearer token, basic auth, tenant ids); never logged
 * @param caCertificate a PEM CA bundle that signs the server's certificate, for https with a
 *     private CA; empty uses the JDK's trust store
 * @param connectTimeout how long connecting may take
 * @param queryTimeout how long one query may take end to end (also sent as Prometheus' {@code
 *     timeout} parameter so the server gives up too)
 */
public record PrometheusSettings(
    URI baseUrl,
    Map<String, String> headers,
    Optional<Path> caCertificate,
    Duration connectTimeout,
    Duration queryTimeout) {

  /** Copies the map and checks the parts. */
  public PrometheusSettings {
    Objects.requireNonNull(baseUrl, "baseUrl");
    String scheme = baseUrl.getScheme();
    if (!"http".equals(scheme) && !"https".equals(scheme)) {
      throw new IllegalArgumentException(
          "Prometheus URL " + baseUrl + " must start with http:// or https://");
    }
    headers = Map.copyOf(headers);
    Objects.requireNonNull(caCertificate, "caCertificate");
    if (connectTimeout.isNegative() || connectTimeout.isZero()) {
      throw new IllegalArgumentException("connectTimeout must be > 0: " + connectTimeout);
    }
    if (queryTimeout.isNegative() || queryTimeout.isZero()) {
      throw new IllegalArgumentException("queryTimeout must be > 0: " + queryTimeout);
    }
  }

  /** Plain HTTP with default timeouts (connect 2 s, query 5 s). */
  public static PrometheusSettings of(URI baseUrl) {
    return new PrometheusSettings(
        baseUrl, Map.of(), Optional.empty(), Duration.ofSeconds(2), Duration.ofSeconds(5));
  }

  /** These settings with {@code Authorization: Bearer <token>}. */
  public PrometheusSettings withBearerToken(String token) {
    return withHeader("Authorization", "Bearer " + token);
  }

  /** These settings with HTTP basic authentication. */
  public PrometheusSettings withBasicAuth(String user, String password) {
    String encoded =
        Base64.getEncoder()
            .encodeToString(
                (user + ":" + password).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return withHeader("Authorization", "Basic " + encoded);
  }

  /** These settings with one more header (replacing one of the same name). */
  public PrometheusSettings withHeader(String name, String value) {
    Map<String, String> h = new java.util.HashMap<>(headers);
    h.put(name, value);
    return new PrometheusSettings(baseUrl, h, caCertificate, connectTimeout, queryTimeout);
  }

  /** Header values stay out of logs and toStrings. */
  @Override
  public String toString() {
    return "PrometheusSettings[baseUrl="
        + baseUrl
        + ", headers="
        + headers.keySet()
        + ", caCertificate="
        + caCertificate
        + ", connectTimeout="
        + connectTimeout
        + ", queryTimeout="
        + queryTimeout
        + "]";
  }
}
