package io.weighbridge.adapter.prometheus;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fake workload for analyzer tests: a loopback HTTP server whose {@code /metrics} emits Traefik-
 * and Linkerd-shaped counters and histograms for any number of backends (canary and stable
 * Services), as if requests had been served at a given rate, error rate and latency. Counters
 * advance with the elapsed time at each scrape; outcomes are drawn from a seeded generator, so a
 * run is reproducible up to scrape timing. A backend set {@link Backend#evenlySpread()} draws its
 * outcomes from low-discrepancy sequences instead: after any number of requests its failures and
 * latency buckets are as close to the configured rates as whole requests allow, so integration
 * tests judge the plumbing and the decision rule, not luck (sampling noise is covered by seeded
 * unit tests and the simulation bench).
 */
public final class SyntheticWorkloadExporter implements AutoCloseable {

  /** Traefik's service-label naming scheme. */
  public enum TraefikScheme {
    /** v3.2.0-v3.7.5: {@code <ns>-<svc>-http-<port>@kubernetesgateway}. */
    OLD,
    /** since v3.7.6: {@code ...-svc-<ns>-<svc>-<idx>@kubernetesgateway}. */
    NEW;
  }

  private static final double[] TRAEFIK_BUCKETS = {0.1, 0.3, 1.2, 5};
  private static final double[] LINKERD_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

  /** One backend Service and how its requests behave; rate, errors and latency can change live. */
  public static final class Backend {
    final String namespace;
    final String service;
    final String route;
    final boolean grpc;
    final TraefikScheme scheme;
    volatile double requestsPerSecond;
    volatile double errorRate;
    volatile double medianSeconds;
    volatile double sigma = 0.5;
    private final SplittableRandom random;
    private volatile boolean even;
    private long served;
    private final double offset;
    private double carry;
    private Instant last;
    private final Map<String, long[]> counts = new TreeMap<>(); // status -> [n]
    private final Map<String, long[]> buckets = new TreeMap<>(); // status -> bucket counts
    private final Map<String, double[]> sums = new TreeMap<>();

    Backend(
        String namespace,
        String service,
        String route,
        boolean grpc,
        TraefikScheme scheme,
        long seed,
        Instant start) {
      this.namespace = namespace;
      this.service = service;
      this.route = route;
      this.grpc = grpc;
      this.scheme = scheme;
      this.random = new SplittableRandom(seed);
      this.offset = new SplittableRandom(seed).nextDouble();
      this.last = start;
    }

    /** Draws outcomes from evenly spread sequences instead of the random generator. */
    public Backend evenlySpread() {
      this.even = true;
      return this;
    }

    /** Weyl sequences frac(offset + n * a) with rationally independent a are equidistributed. */
    private static final double[] WEYL = {
      0.6180339887498949, 0.4142135623730951, 0.7320508075688772
    };

    private double uniform(int stream) {
      if (!even) {
        return random.nextDouble();
      }
      double x = offset + served * WEYL[stream];
      return x - Math.floor(x);
    }

    /** Sets the request rate. */
    public Backend rate(double rps) {
      this.requestsPerSecond = rps;
      return this;
    }

    /** Sets the fraction of requests that fail (5xx, or gRPC UNAVAILABLE). */
    public Backend errors(double fraction) {
      this.errorRate = fraction;
      return this;
    }

    /** Sets the median latency (log-normal with sigma 0.5). */
    public Backend latency(double medianSeconds) {
      this.medianSeconds = medianSeconds;
      return this;
    }

    synchronized void advance(Instant now) {
      double seconds = Math.max(0, (now.toEpochMilli() - last.toEpochMilli()) / 1000.0);
      last = now;
      double expected = requestsPerSecond * seconds + carry;
      long n = (long) Math.floor(expected);
      carry = expected - n;
      for (long i = 0; i < n; i++) {
        served++;
        boolean failed = uniform(0) < errorRate;
        String status = grpc ? (failed ? "14" : "0") : (failed ? "503" : "200");
        double latency = medianSeconds * Math.exp(sigma * gaussian());
        counts.computeIfAbsent(status, k -> new long[1])[0]++;
        long[] b = buckets.computeIfAbsent(status, k -> new long[LINKERD_BUCKETS.length + 5]);
        for (int j = 0; j < TRAEFIK_BUCKETS.length; j++) {
          if (latency <= TRAEFIK_BUCKETS[j]) {
            b[j]++;
          }
        }
        for (int j = 0; j < LINKERD_BUCKETS.length; j++) {
          if (latency <= LINKERD_BUCKETS[j]) {
            b[TRAEFIK_BUCKETS.length + j]++;
          }
        }
        sums.computeIfAbsent(status, k -> new double[1])[0] += latency;
      }
    }

    private double gaussian() {
      // Box-Muller from the seeded generator (SplittableRandom has no nextGaussian before 17's
      // RandomGenerator default, which is fine, but keep it explicit and reproducible)
      double u = 1 - uniform(1);
      double v = uniform(2);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    String traefikService() {
      return scheme == TraefikScheme.OLD
          ? namespace + "-" + service + "-http-80@kubernetesgateway"
          : "httproute-"
              + namespace
              + "-"
              + route
              + "-gw-ep-web-0-rule-0-svc-"
              + namespace
              + "-"
              + service
              + "-0@kubernetesgateway";
    }

    synchronized void write(StringBuilder out) {
      String svc = traefikService();
      String proto = grpc ? "grpc" : "http";
      for (Map.Entry<String, long[]> e : counts.entrySet()) {
        String code = e.getKey();
        String tl =
            "service=\""
                + svc
                + "\",code=\""
                + code
                + "\",method=\"GET\",protocol=\""
                + proto
                + "\"";
        line(out, "traefik_service_requests_total", tl, e.getValue()[0]);
        long[] b = buckets.get(code);
        for (int j = 0; j < TRAEFIK_BUCKETS.length; j++) {
          line(
              out,
              "traefik_service_request_duration_seconds_bucket",
              tl + ",le=\"" + TRAEFIK_BUCKETS[j] + "\"",
              b[j]);
        }
        line(
            out,
            "traefik_service_request_duration_seconds_bucket",
            tl + ",le=\"+Inf\"",
            e.getValue()[0]);
        line(out, "traefik_service_request_duration_seconds_count", tl, e.getValue()[0]);
        out.append("traefik_service_request_duration_seconds_sum{")
            .append(tl)
            .append("} ")
            .append(String.format(Locale.ROOT, "%.6f", sums.get(code)[0]))
            .append('\n');

        String kind = grpc ? "grpc" : "http";
        String status =
            grpc
                ? "grpc_status=\"" + (code.equals("0") ? "OK" : "UNAVAILABLE") + "\""
                : "http_status=\"" + code + "\"";
        String ll =
            "parent_group=\"core\",parent_kind=\"Service\",parent_namespace=\""
                + namespace
                + "\",parent_name=\""
                + route
                + "-parent\",parent_port=\"80\",route_group="
                + "\"gateway.networking.k8s.io\",route_kind=\""
                + (grpc ? "GRPCRoute" : "HTTPRoute")
                + "\",route_namespace=\""
                + namespace
                + "\",route_name=\""
                + route
                + "\",backend_group=\"core\",backend_kind=\"Service\",backend_namespace=\""
                + namespace
                + "\",backend_name=\""
                + service
                + "\",backend_port=\"80\"";
        line(
            out,
            "outbound_" + kind + "_route_backend_response_statuses_total",
            ll + "," + status + ",error=\"\"",
            e.getValue()[0]);
        for (int j = 0; j < LINKERD_BUCKETS.length; j++) {
          line(
              out,
              "outbound_" + kind + "_route_backend_response_duration_seconds_bucket",
              ll + "," + status + ",le=\"" + LINKERD_BUCKETS[j] + "\"",
              b[TRAEFIK_BUCKETS.length + j]);
        }
        line(
            out,
            "outbound_" + kind + "_route_backend_response_duration_seconds_bucket",
            ll + "," + status + ",le=\"+Inf\"",
            e.getValue()[0]);
      }
    }
  }

  private static void line(StringBuilder out, String name, String labels, long value) {
    out.append(name).append('{').append(labels).append("} ").append(value).append('\n');
  }

  private final HttpServer server;
  private final Clock clock;
  private final long seed;
  private final List<Backend> backends = new CopyOnWriteArrayList<>();
  private final Map<String, Double> gauges = new java.util.concurrent.ConcurrentHashMap<>();

  /** Starts the exporter on a free loopback port. */
  public SyntheticWorkloadExporter(long seed, Clock clock) throws IOException {
    this.seed = seed;
    this.clock = clock;
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/metrics",
        ex -> {
          byte[] body = scrape().getBytes(StandardCharsets.UTF_8);
          ex.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4");
          ex.sendResponseHeaders(200, body.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
          }
        });
    server.start();
  }

  /** The {@code host:port} Prometheus scrapes. */
  public String target() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  /** Adds a backend serving nothing yet; set its rate, errors and latency. */
  public Backend backend(
      String namespace, String service, String route, boolean grpc, TraefikScheme scheme) {
    Backend b =
        new Backend(
            namespace, service, route, grpc, scheme, seed ^ service.hashCode(), clock.instant());
    b.latency(0.05);
    backends.add(b);
    return b;
  }

  /** Sets a gauge {@code name{labels}} (NaN allowed) for custom-check tests. */
  public void gauge(String nameAndLabels, double value) {
    gauges.put(nameAndLabels, value);
  }

  /** Advances every backend to now and renders the exposition text. */
  String scrape() {
    Instant now = clock.instant();
    StringBuilder out = new StringBuilder();
    List<Backend> all = new ArrayList<>(backends);
    for (Backend b : all) {
      b.advance(now);
      b.write(out);
    }
    gauges.forEach(
        (k, v) ->
            out.append(k)
                .append(' ')
                .append(Double.isNaN(v) ? "NaN" : String.format(Locale.ROOT, "%f", v))
                .append('\n'));
    return out.toString();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
