package io.weighbridge.adapter.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP endpoints for Kubernetes probes and Prometheus: {@code /healthz} (the process is alive),
 * {@code /readyz} (200 only while ready to serve calls, 503 with the reason otherwise) and {@code
 * /metrics} (Prometheus text exposition). Built on the JDK's own HTTP server: three tiny read-only
 * endpoints need no web framework.
 */
public final class HealthHttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HealthHttpServer.class);

  /** The Prometheus text exposition format, version 0.0.4. */
  public static final String PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private static final String TEXT = "text/plain; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService executor;
  private final Supplier<Optional<String>> notReadyReason;
  private final List<Supplier<Optional<String>>> readinessDetails = new CopyOnWriteArrayList<>();
  private final PrometheusMeterRegistry registry;

  /**
   * Binds the endpoints (they answer once {@link #start()} runs).
   *
   * @param address where to listen; port 0 picks a free port
   * @param notReadyReason empty when ready, else why not (shown in the 503 body)
   * @param registry the metrics {@code /metrics} exposes
   * @throws UncheckedIOException when the address cannot be bound
   */
  public HealthHttpServer(
      InetSocketAddress address,
      Supplier<Optional<String>> notReadyReason,
      PrometheusMeterRegistry registry) {
    this.notReadyReason = notReadyReason;
    this.registry = registry;
    try {
      this.server = HttpServer.create(address, 0);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen for HTTP on "
              + address
              + ": "
              + e.getMessage()
              + "; choose another --http-port or stop what uses it",
          e);
    }
    // Two threads: a slow scrape must not delay a probe; probes and scrapes are rare and quick.
    this.executor =
        new ThreadPoolExecutor(
            2,
            2,
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            Thread.ofPlatform().name("weighbridge-http-", 1).daemon().factory());
    ((ThreadPoolExecutor) executor).allowCoreThreadTimeOut(true);
    server.setExecutor(executor);
    server.createContext("/healthz", get(exchange -> respond(exchange, 200, TEXT, "ok\n")));
    server.createContext("/readyz", get(this::readyz));
    server.createContext("/metrics", get(this::metrics));
    server.createContext(
        "/",
        exchange -> respond(exchange, 404, TEXT, "not found: try /healthz, /readyz or /metrics\n"));
  }

  /**
   * Serves {@code handler} under the path prefix {@code path} (e.g. {@code /connector/}) as well;
   * call before {@link #start()}. The handler checks methods and paths itself.
   */
  public void serve(String path, HttpHandler handler) {
    server.createContext(path, handler);
  }

  /**
   * Serves {@code GET path} with the JSON {@code body} supplies at each request (e.g. the
   * analyzer's {@code /api/v1/analyses}); call before {@link #start()}.
   */
  public void addJsonEndpoint(String path, Supplier<String> body) {
    server.createContext(
        path,
        get(
            exchange ->
                respond(
                    exchange,
                    200,
                    "application/json",
                    body.get().getBytes(java.nio.charset.StandardCharsets.UTF_8))));
  }

  /**
   * Adds a line {@code degraded: <detail>} to the 200 answer of {@code /readyz} while {@code
   * detail} is present: a part that is degraded without making the server unready.
   */
  public void addReadinessDetail(Supplier<Optional<String>> detail) {
    readinessDetails.add(detail);
  }

  /** Starts answering. */
  public void start() {
    server.start();
  }

  /** The bound port. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Stops at once; a probe in progress may be cut off. */
  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void readyz(HttpExchange exchange) throws IOException {
    Optional<String> reason;
    try {
      reason = notReadyReason.get();
    } catch (RuntimeException e) {
      log.warn("readiness check failed", e);
      reason = Optional.of("the readiness check failed: " + e);
    }
    if (reason.isEmpty()) {
      StringBuilder body = new StringBuilder("ready\n");
      for (Supplier<Optional<String>> detail : readinessDetails) {
        try {
          detail.get().ifPresent(d -> body.append("degraded: ").append(d).append('\n'));
        } catch (RuntimeException e) {
          body.append("degraded: a readiness detail failed: ").append(e).append('\n');
        }
      }
      respond(exchange, 200, TEXT, body.toString());
    } else {
      respond(exchange, 503, TEXT, "not ready: " + reason.get() + "\n");
    }
  }

  private void metrics(HttpExchange exchange) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
    registry.scrape(body, PROMETHEUS_CONTENT_TYPE);
    respond(exchange, 200, PROMETHEUS_CONTENT_TYPE, body.toByteArray());
  }

  /** Allows GET and HEAD only; the paths must match exactly. */
  private static HttpHandler get(HttpHandler handler) {
    return exchange -> {
      String path = exchange.getRequestURI().getPath();
      if (!path.equals(exchange.getHttpContext().getPath())) {
        respond(exchange, 404, TEXT, "not found: try /healthz, /readyz or /metrics\n");
        return;
      }
      String method = exchange.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        respond(exchange, 405, TEXT, "method " + method + " not allowed: use GET\n");
        return;
      }
      handler.handle(exchange);
    };
  }

  private static void respond(HttpExchange exchange, int status, String contentType, String body)
      throws IOException {
    respond(exchange, status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  private static void respond(HttpExchange exchange, int status, String contentType, byte[] body)
      throws IOException {
    try (exchange) {
      exchange.getResponseHeaders().set("Content-Type", contentType);
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      boolean head = exchange.getRequestMethod().equals("HEAD");
      // -1: no body; 0 would mean a chunked body of unknown length.
      exchange.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    }
  }
}
