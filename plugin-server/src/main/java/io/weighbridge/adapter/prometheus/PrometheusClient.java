package io.weighbridge.adapter.prometheus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.analysis.MetricsSource;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs instant queries against the Prometheus HTTP API ({@code GET /api/v1/query}). Failures to get
 * an answer (connection refused, timeout, HTTP error, a query Prometheus rejects, a body that is
 * not Prometheus') become {@link UnavailableException} with the URL and the reason; an empty result
 * is data ({@link MetricsSource.QueryResult.NoData}), not an error.
 */
public final class PrometheusClient implements MetricsSource {

  /** One series of an instant vector, or the single value of a scalar (no labels). */
  public record Sample(Map<String, String> labels, double value) {

    /** Copies the labels. */
    public Sample {
      labels = Map.copyOf(labels);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Logger LOG = LoggerFactory.getLogger(PrometheusClient.class);

  /** At most one WARN per this interval while Prometheus keeps failing. */
  static final Duration WARN_INTERVAL = Duration.ofMinutes(1);

  private final PrometheusSettings settings;
  private final HttpClient http;
  private final URI queryUri;
  private final Clock clock;

  // Failure reporting (guarded by this): WARN at the first failure, then at most every
  // WARN_INTERVAL with the count since, INFO when Prometheus answers again.
  private Instant lastWarn;
  private int failuresSinceWarn;

  /** Creates a client; reads the CA bundle now so a bad file fails at start, not at a query. */
  public PrometheusClient(PrometheusSettings settings) {
    this(settings, Clock.systemUTC());
  }

  /** As {@link #PrometheusClient(PrometheusSettings)}, timing its WARN lines by {@code clock}. */
  PrometheusClient(PrometheusSettings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .connectTimeout(settings.connectTimeout())
            .followRedirects(HttpClient.Redirect.NEVER);
    settings.caCertificate().ifPresent(ca -> b.sslContext(sslContext(ca)));
    this.http = b.build();
    String base = settings.baseUrl().toString();
    this.queryUri = URI.create((base.endsWith("/") ? base : base + "/") + "api/v1/query");
  }

  private static SSLContext sslContext(java.nio.file.Path ca) {
    try (InputStream in = Files.newInputStream(ca)) {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + i++, c);
      }
      if (i == 0) {
        throw new IllegalArgumentException("Prometheus CA file " + ca + " holds no certificate");
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "cannot read the Prometheus CA file " + ca + ": " + e.getMessage() + " (want PEM)", e);
    }
  }

  /**
   * Runs an instant query and returns every sample (a scalar is one sample without labels).
   *
   * @throws UnavailableException when Prometheus gives no answer
   */
  public List<Sample> samples(String promql, Instant time) {
    List<Sample> samples;
    try {
      samples = send(promql, time);
    } catch (UnavailableException e) {
      failed(e);
      throw e;
    }
    answered();
    return samples;
  }

  private synchronized void failed(UnavailableException e) {
    Instant now = clock.instant();
    if (lastWarn == null) {
      LOG.warn(
          "the canary analyzer cannot query Prometheus: {}; canaries are not judged (verdicts"
              + " INCONCLUSIVE) until it answers",
          e.getMessage());
      lastWarn = now;
      failuresSinceWarn = 0;
    } else if (Duration.between(lastWarn, now).compareTo(WARN_INTERVAL) >= 0) {
      LOG.warn(
          "Prometheus still fails ({} more failed queries since the last warning): {}",
          failuresSinceWarn + 1,
          e.getMessage());
      lastWarn = now;
      failuresSinceWarn = 0;
    } else {
      failuresSinceWarn++;
    }
  }

  private synchronized void answered() {
    if (lastWarn != null) {
      LOG.info("Prometheus at {} answers again", settings.baseUrl());
      lastWarn = null;
      failuresSinceWarn = 0;
    }
  }

  private List<Sample> send(String promql, Instant time) {
    String timeout = settings.queryTimeout().toMillis() + "ms";
    String form =
        "query="
            + URLEncoder.encode(promql, StandardCharsets.UTF_8)
            + "&time="
            + time.getEpochSecond()
            + "."
            + String.format("%03d", time.getNano() / 1_000_000)
            + "&timeout="
            + timeout;
    HttpRequest.Builder req =
        HttpRequest.newBuilder(queryUri)
            .timeout(settings.queryTimeout())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(form));
    settings.headers().forEach(req::header);
    HttpResponse<String> resp;
    try {
      resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    } catch (HttpTimeoutException e) {
      throw new UnavailableException(
          "Prometheus at "
              + settings.baseUrl()
              + " did not answer within "
              + settings.queryTimeout().toMillis()
              + " ms; check that it is up and not overloaded, or raise the query timeout",
          e);
    } catch (IOException e) {
      throw new UnavailableException(
          "cannot reach Prometheus at "
              + settings.baseUrl()
              + " ("
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : ": " + e.getMessage())
              + "); check the URL, the network policy and that Prometheus is running",
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnavailableException("interrupted while querying Prometheus", e);
    }
    return parse(resp.statusCode(), resp.body(), promql);
  }

  /** Parses a Prometheus API response body (package-private for tests). */
  List<Sample> parse(int status, String body, String promql) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (IOException e) {
      root = null;
    }
    if (root == null || !root.has("status")) {
      throw new UnavailableException(
          "Prometheus at "
              + settings.baseUrl()
              + " answered HTTP "
              + status
              + " with a body that is not a Prometheus API response ("
              + abbreviate(body)
              + "); check the URL points at Prometheus (or a compatible API), and its auth");
    }
    if (!"success".equals(root.path("status").asText())) {
      throw new UnavailableException(
          "Prometheus at "
              + settings.baseUrl()
              + " refused the query (HTTP "
              + status
              + ", "
              + root.path("errorType").asText("error")
              + ": "
              + root.path("error").asText("")
              + "); query: "
              + promql);
    }
    JsonNode data = root.path("data");
    String type = data.path("resultType").asText();
    JsonNode result = data.path("result");
    List<Sample> out = new ArrayList<>();
    switch (type) {
      case "scalar" -> out.add(new Sample(Map.of(), value(result)));
      case "vector" -> {
        for (JsonNode s : result) {
          Map<String, String> labels = new TreeMap<>();
          s.path("metric").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
          out.add(new Sample(labels, value(s.path("value"))));
        }
      }
      default ->
          throw new UnavailableException(
              "Prometheus returned a "
                  + type
                  + " result for an instant query; write a query that returns a vector or a"
                  + " scalar (no range selector at the top): "
                  + promql);
    }
    return List.copyOf(out);
  }

  /** Prometheus sends [time, "value"]; the value may be "NaN", "+Inf" or "-Inf". */
  private double value(JsonNode pair) {
    String v = pair.path(1).asText();
    return switch (v) {
      case "NaN" -> Double.NaN;
      case "+Inf", "Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      default -> {
        try {
          yield Double.parseDouble(v);
        } catch (NumberFormatException e) {
          throw new UnavailableException(
              "Prometheus at "
                  + settings.baseUrl()
                  + " sent a value that is not a number: "
                  + pair);
        }
      }
    };
  }

  /** One number for the analyzer: exactly one sample, else NoData with the reason. */
  @Override
  public QueryResult query(String promql, Instant time) {
    List<Sample> samples = samples(promql, time);
    if (samples.isEmpty()) {
      return new QueryResult.NoData("the query matched no series: " + promql);
    }
    if (samples.size() > 1) {
      return new QueryResult.NoData(
          "the query returned "
              + samples.size()
              + " series, expected one; aggregate it, e.g. sum(...): "
              + promql);
    }
    return new QueryResult.Value(samples.get(0).value());
  }

  /** A cumulative histogram keyed by the {@code le} label; NaN counts make it NoData. */
  @Override
  public QueryResult histogram(String promql, Instant time) {
    List<Sample> samples = samples(promql, time);
    if (samples.isEmpty()) {
      return new QueryResult.NoData("the query matched no series: " + promql);
    }
    java.util.TreeMap<Double, Double> buckets = new java.util.TreeMap<>();
    for (Sample s : samples) {
      String le = s.labels().get("le");
      double bound;
      try {
        bound = le == null ? Double.NaN : parseBound(le);
      } catch (NumberFormatException e) {
        bound = Double.NaN;
      }
      if (Double.isNaN(bound)) {
        return new QueryResult.NoData(
            "a histogram series has no numeric le label ("
                + s.labels()
                + "); aggregate with sum by (le) (...): "
                + promql);
      }
      if (!Double.isFinite(s.value())) {
        return new QueryResult.NoData(
            "histogram bucket le=" + le + " is " + s.value() + ": " + promql);
      }
      buckets.merge(bound, s.value(), Double::sum);
    }
    return new QueryResult.Buckets(
        new io.weighbridge.domain.analysis.LatencyStatistics.Histogram(buckets));
  }

  private static double parseBound(String le) {
    return switch (le) {
      case "+Inf", "Inf", "inf", "+inf" -> Double.POSITIVE_INFINITY;
      default -> Double.parseDouble(le);
    };
  }

  private static String abbreviate(String body) {
    String b = body == null ? "" : body.strip().replaceAll("\\s+", " ");
    return b.length() > 120 ? b.substring(0, 120) + "..." : b;
  }
}
