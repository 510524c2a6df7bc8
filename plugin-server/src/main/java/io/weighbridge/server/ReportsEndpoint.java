package io.weighbridge.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.weighbridge.cli.Cli;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CLI's {@code status} and {@code plan} over plugin-server's HTTP port ({@code GET
 * /api/v1/status?namespace=shop&output=yaml}, {@code GET
 * /api/v1/plan?namespace=shop&rollout=web&weight=30}), run in this JVM with this server's
 * Kubernetes access: an operator needs neither a JDK nor a second JVM in the pod, only kubectl
 * ({@code kubectl get --raw
 * /api/v1/namespaces/argo-rollouts/services/weighbridge:http/proxy/api/v1/status?namespace=shop},
 * which the API server authorizes as {@code services/proxy}) or curl through a port-forward. Reads
 * only; the query parameters are the commands' long options ({@code rollout} is the argument). The
 * answers run one at a time on their own thread, so probes and scrapes never wait for a report.
 */
final class ReportsEndpoint implements HttpHandler, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReportsEndpoint.class);

  /** The path prefix: {@code /api/v1/status} and {@code /api/v1/plan}. */
  static final String PREFIX = "/api/v1/";

  /** The query parameters each command takes (its long options, and rollout). */
  private static final Map<String, Set<String>> PARAMETERS =
      Map.of(
          "status",
          Set.of("rollout", "namespace", "all-namespaces", "output", "plugin-names"),
          "plan",
          Set.of(
              "rollout",
              "namespace",
              "weight",
              "header-route",
              "mirror-route",
              "output",
              "plugin-names"));

  private final ExecutorService worker =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("weighbridge-reports").daemon().factory());
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Optional<Path> kubeconfig;
  private final Optional<String> kubeContext;
  private volatile String selfUrl = "";

  /** Reads the cluster as plugin-server does ({@code --kubeconfig}, {@code --kube-context}). */
  ReportsEndpoint(Optional<Path> kubeconfig, Optional<String> kubeContext) {
    this.kubeconfig = kubeconfig;
    this.kubeContext = kubeContext;
  }

  /** Where {@code status} asks for the analyzer's verdicts: this server's own HTTP port. */
  void selfUrl(String url) {
    this.selfUrl = url;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    String command = exchange.getRequestURI().getPath().substring(PREFIX.length());
    if (!PARAMETERS.containsKey(command)) {
      respond(exchange, 404, "not found: try /api/v1/status or /api/v1/plan\n", "text/plain");
      return;
    }
    if (!exchange.getRequestMethod().equals("GET")) {
      exchange.getResponseHeaders().set("Allow", "GET");
      respond(exchange, 405, "use GET\n", "text/plain");
      return;
    }
    List<String> args;
    try {
      args = arguments(command, exchange.getRequestURI().getRawQuery());
    } catch (IllegalArgumentException e) {
      respond(exchange, 400, e.getMessage() + "\n", "text/plain");
      return;
    }
    worker.execute(() -> run(exchange, args));
  }

  /** The CLI arguments of {@code command} for a query string. */
  List<String> arguments(String command, String rawQuery) {
    List<String> args = new ArrayList<>(List.of(command));
    if (rawQuery != null && !rawQuery.isEmpty()) {
      for (String pair : rawQuery.split("&")) {
        int eq = pair.indexOf('=');
        String key =
            URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String value =
            eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        if (!PARAMETERS.get(command).contains(key)) {
          throw new IllegalArgumentException(
              "unknown parameter '"
                  + key
                  + "' for "
                  + command
                  + ": use "
                  + String.join(", ", PARAMETERS.get(command).stream().sorted().toList()));
        }
        if (key.equals("rollout")) {
          args.add(1, value);
        } else if (key.equals("all-namespaces")) {
          if (!value.isEmpty() && !value.equals("true")) {
            throw new IllegalArgumentException("all-namespaces takes no value (or true)");
          }
          args.add("--all-namespaces");
        } else {
          args.add("--" + key + "=" + value);
        }
      }
    }
    kubeconfig.ifPresent(k -> args.add("--kubeconfig=" + k));
    kubeContext.ifPresent(c -> args.add("--kube-context=" + c));
    if (command.equals("status") && !selfUrl.isEmpty()) {
      args.add("--server-url=" + selfUrl);
    }
    return args;
  }

  private void run(HttpExchange exchange, List<String> args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    try {
      int code =
          new Cli(http)
              .run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err));
      String type =
          args.stream().anyMatch(a -> a.equals("--output=json"))
              ? "application/json"
              : args.stream().anyMatch(a -> a.equals("--output=yaml"))
                  ? "application/yaml"
                  : "text/plain";
      switch (code) {
        case 0 -> respond(exchange, 200, out.toString(), type);
        case 2 -> respond(exchange, 400, err.toString(), "text/plain");
        default -> respond(exchange, 500, err.toString(), "text/plain");
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot answer {}: {}", exchange.getRequestURI(), e.toString());
      exchange.close();
    }
  }

  private static void respond(HttpExchange exchange, int status, String body, String type)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    try (exchange) {
      exchange.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
      try (OutputStream o = exchange.getResponseBody()) {
        o.write(bytes);
      }
    }
  }

  /** Stops the report thread. */
  @Override
  public void close() {
    worker.shutdownNow();
  }
}
