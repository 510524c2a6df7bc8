package io.weighbridge.adapter.prometheus;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A real Prometheus ({@code /usr/bin/prometheus}, the Debian package) for integration tests: bound
 * to a free loopback port, scraping one target every second, storing into a temp directory that is
 * deleted on close.
 */
public final class PrometheusProcess implements AutoCloseable {

  /** The binary the tests use. */
  public static final Path BINARY = Path.of("/usr/bin/prometheus");

  private final Process process;
  private final Path dir;
  private final int port;

  private PrometheusProcess(Process process, Path dir, int port) {
    this.process = process;
    this.dir = dir;
    this.port = port;
  }

  /** Starts Prometheus scraping {@code target} (host:port, path /metrics) every second. */
  public static PrometheusProcess start(String target) throws IOException {
    if (!Files.isExecutable(BINARY)) {
      throw new IllegalStateException(
          BINARY + " is missing: install the Debian package (apt-get install -y prometheus)");
    }
    Path dir = Files.createTempDirectory("weighbridge-prometheus-");
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(
        config,
        """
        global:
          scrape_interval: 1s
          scrape_timeout: 900ms
          evaluation_interval: 1s
        scrape_configs:
          - job_name: workload
            static_configs:
              - targets: ['%s']
        """
            .formatted(target));
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process p =
        new ProcessBuilder(
                List.of(
                    BINARY.toString(),
                    "--config.file=" + config,
                    "--storage.tsdb.path=" + dir.resolve("data"),
                    "--web.listen-address=127.0.0.1:" + port,
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn"))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("prometheus.log").toFile())
            .start();
    PrometheusProcess prom = new PrometheusProcess(p, dir, port);
    try {
      HttpClient http = HttpClient.newHttpClient();
      await("Prometheus ready on port " + port)
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .ignoreExceptions()
          .until(
              () -> {
                if (!p.isAlive()) {
                  throw new IllegalStateException(
                      "Prometheus exited: " + Files.readString(dir.resolve("prometheus.log")));
                }
                return http.send(
                            HttpRequest.newBuilder(URI.create(prom.url() + "/-/ready")).build(),
                            HttpResponse.BodyHandlers.discarding())
                        .statusCode()
                    == 200;
              });
      PrometheusClient client = new PrometheusClient(PrometheusSettings.of(URI.create(prom.url())));
      await("first scrape of " + target)
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(200))
          .ignoreExceptions()
          .until(() -> !client.samples("up{job=\"workload\"} == 1", Instant.now()).isEmpty());
    } catch (RuntimeException e) {
      prom.close();
      throw e;
    }
    return prom;
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** Stops Prometheus and deletes its storage. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp dir left behind is harmless
    }
  }
}
