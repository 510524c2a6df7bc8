package io.weighbridge.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.weighbridge.e2e.RecordingTrafficRouter.RecordedCall;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;

/**
 * A loopback HTTP endpoint through which a conformance test reads what a {@link
 * RecordingTrafficRouter} recorded and scripts what it cannot script through a Rollout.
 *
 * <ul>
 *   <li>{@code GET /calls[?method=setWeight][&rollout=namespace/name]}: the recorded calls as a
 *       JSON array, oldest first
 *   <li>{@code POST /reset}: forget every call and the InitPlugin script
 *   <li>{@code PUT /init-plugin-error} with body {@code <Kind>: <message>}: fail InitPlugin; {@code
 *       DELETE /init-plugin-error}: succeed again
 * </ul>
 */
public final class ControlEndpoint implements AutoCloseable {
  private final HttpServer http;
  private final ExecutorService executor;
  private final RecordingTrafficRouter router;
  private final ObjectMapper json = new ObjectMapper();

  private ControlEndpoint(
      HttpServer http, ExecutorService executor, RecordingTrafficRouter router) {
    this.http = http;
    this.executor = executor;
    this.router = router;
  }

  /** Starts the endpoint on 127.0.0.1:{@code port} (0 picks a free port). */
  public static ControlEndpoint start(int port, RecordingTrafficRouter router) throws IOException {
    HttpServer http =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
    ExecutorService executor = Executors.newFixedThreadPool(2);
    http.setExecutor(executor);
    ControlEndpoint endpoint = new ControlEndpoint(http, executor, router);
    http.createContext("/", endpoint::handle);
    http.start();
    return endpoint;
  }

  /** The port it listens on. */
  public int port() {
    return http.getAddress().getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      try {
        route(exchange);
      } catch (RuntimeException e) {
        respond(exchange, 400, "text/plain", (e + "\n").getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  private void route(HttpExchange exchange) throws IOException {
    String method = exchange.getRequestMethod();
    String path = exchange.getRequestURI().getPath();
    switch (method + " " + path) {
      case "GET /calls" -> {
        Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
        List<RecordedCall> calls = router.calls(filter(query));
        respond(exchange, 200, "application/json", json.writeValueAsBytes(calls));
      }
      case "POST /reset" -> {
        router.reset();
        respond(exchange, 204, null, new byte[0]);
      }
      case "PUT /init-plugin-error" -> {
        router.failInitPlugin(body(exchange));
        respond(exchange, 204, null, new byte[0]);
      }
      case "DELETE /init-plugin-error" -> {
        router.failInitPlugin(null);
        respond(exchange, 204, null, new byte[0]);
      }
      default ->
          respond(
              exchange,
              404,
              "text/plain",
              ("no such control endpoint: "
                      + method
                      + " "
                      + path
                      + " (see ControlEndpoint's Javadoc)\n")
                  .getBytes(StandardCharsets.UTF_8));
    }
  }

  private static Predicate<RecordedCall> filter(Map<String, String> query) {
    Predicate<RecordedCall> filter = call -> true;
    String method = query.get("method");
    if (method != null) {
      filter = filter.and(call -> call.method().equals(method));
    }
    String rollout = query.get("rollout");
    if (rollout != null) {
      filter = filter.and(call -> call.rollout() != null && call.rollout().key().equals(rollout));
    }
    return filter;
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> query = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return query;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      query.put(
          URLDecoder.decode(key, StandardCharsets.UTF_8),
          URLDecoder.decode(value, StandardCharsets.UTF_8));
    }
    return query;
  }

  private static String body(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static void respond(HttpExchange exchange, int status, String type, byte[] body)
      throws IOException {
    if (type != null) {
      exchange.getResponseHeaders().set("Content-Type", type);
    }
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }
}
