package io.weighbridge.adapter.prometheus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.sun.net.httpserver.HttpServer;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.analysis.MetricsSource.QueryResult;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class PrometheusClientTest {

  private HttpServer server;
  private final AtomicReference<String> body = new AtomicReference<>();
  private final AtomicReference<Integer> status = new AtomicReference<>(200);
  private final AtomicReference<String> lastForm = new AtomicReference<>();
  private final AtomicReference<String> lastAuth = new AtomicReference<>();
  private final CountDownLatch release = new CountDownLatch(1);
  private volatile boolean hang;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext(
        "/prom/api/v1/query",
        ex -> {
          lastForm.set(
              URLDecoder.decode(
                  new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8),
                  StandardCharsets.UTF_8));
          lastAuth.set(ex.getRequestHeaders().getFirst("Authorization"));
          if (hang) {
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(status.get(), b.length);
          try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
          }
        });
    server.start();
  }

  @AfterEach
  void stop() {
    release.countDown();
    server.stop(0);
  }

  private PrometheusClient client() {
    return new PrometheusClient(
        PrometheusSettings.of(
                URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/prom"))
            .withBearerToken("s3cret"));
  }

  private static String vector(String... values) {
    StringBuilder r = new StringBuilder();
    for (int i = 0; i < values.length; i++) {
      r.append(i == 0 ? "" : ",")
          .append("{\"metric\":{\"side\":\"")
          .append(i)
          .append("\"},\"value\":[1700000000.5,\"")
          .append(values[i])
          .append("\"]}");
    }
    return "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" + r + "]}}";
  }

  @Test
  void vectorWithOneSeriesIsAValueAndSendsQueryTimeAndAuth() {
    body.set(vector("42.5"));
    assertThat(client().query("sum(up)", Instant.ofEpochMilli(1_700_000_000_250L)))
        .isEqualTo(new QueryResult.Value(42.5));
    assertThat(lastForm.get())
        .contains("query=sum(up)")
        .contains("time=1700000000.250")
        .contains("timeout=5000ms");
    assertThat(lastAuth.get()).isEqualTo("Bearer s3cret");
  }

  @Test
  void specialValues() {
    body.set(vector("NaN", "+Inf", "-Inf"));
    assertThat(client().samples("x", Instant.now()))
        .extracting(PrometheusClient.Sample::value)
        .containsExactly(Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY);
    assertThat(client().samples("x", Instant.now()).get(0).labels()).containsEntry("side", "0");
  }

  @Test
  void scalar() {
    body.set("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"7\"]}}");
    assertThat(client().query("vector(7)", Instant.now())).isEqualTo(new QueryResult.Value(7));
  }

  @Test
  void emptyAndManySeriesAreNoData() {
    body.set(vector());
    assertThat(client().query("absent_metric", Instant.now()))
        .isInstanceOfSatisfying(
            QueryResult.NoData.class, n -> assertThat(n.reason()).contains("matched no series"));
    body.set(vector("1", "2"));
    assertThat(client().query("up", Instant.now()))
        .isInstanceOfSatisfying(
            QueryResult.NoData.class, n -> assertThat(n.reason()).contains("aggregate it"));
  }

  @Test
  void rejectedQuery() {
    status.set(400);
    body.set(
        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 4\"}");
    assertThatThrownBy(() -> client().query("sum(", Instant.now()))
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("refused the query (HTTP 400, bad_data: parse error at char 4)");
  }

  @Test
  void notPrometheus() {
    status.set(502);
    body.set("<html>Bad Gateway</html>");
    assertThatThrownBy(() -> client().query("up", Instant.now()))
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("answered HTTP 502")
        .hasMessageContaining("<html>Bad Gateway</html>");
  }

  @Test
  void timeout() {
    hang = true;
    body.set(vector("1"));
    PrometheusClient slow =
        new PrometheusClient(
            new PrometheusSettings(
                URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/prom"),
                Map.of(),
                Optional.empty(),
                Duration.ofSeconds(1),
                Duration.ofMillis(200)));
    assertThatThrownBy(() -> slow.query("up", Instant.now()))
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("did not answer within 200 ms");
  }

  @Test
  void connectionRefused() {
    int port = server.getAddress().getPort();
    server.stop(0);
    assertThatThrownBy(
            () ->
                new PrometheusClient(PrometheusSettings.of(URI.create("http://127.0.0.1:" + port)))
                    .query("up", Instant.now()))
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("cannot reach Prometheus at http://127.0.0.1:" + port);
  }

  @Test
  @DisplayName(
      "When Prometheus cannot be reached, then the first failure is a WARN, repeats within a"
          + " minute are not, and the recovery is an INFO")
  void unreachableWarnsOnceThenRateLimited() {
    Logger logger = (Logger) LoggerFactory.getLogger(PrometheusClient.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    Level before = logger.getLevel();
    logger.setLevel(Level.INFO);
    try {
      MutableClock clock = new MutableClock();
      PrometheusClient client =
          new PrometheusClient(
              PrometheusSettings.of(
                  URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/prom")),
              clock);
      status.set(503);
      body.set("overloaded");
      for (int i = 0; i < 5; i++) {
        assertThatThrownBy(() -> client.query("up", Instant.now()))
            .isInstanceOf(UnavailableException.class);
        clock.now = clock.now.plusSeconds(10);
      }
      assertThat(lines.list)
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.getLevel()).isEqualTo(Level.WARN);
                assertThat(e.getFormattedMessage())
                    .contains("cannot query Prometheus")
                    .contains("503");
              });
      clock.now = clock.now.plus(PrometheusClient.WARN_INTERVAL);
      assertThatThrownBy(() -> client.query("up", Instant.now()))
          .isInstanceOf(UnavailableException.class);
      assertThat(lines.list).hasSize(2);
      assertThat(lines.list.get(1).getFormattedMessage()).contains("5 more failed queries");

      status.set(200);
      body.set(vector("1"));
      client.query("up", Instant.now());
      client.query("up", Instant.now());
      assertThat(lines.list).hasSize(3);
      assertThat(lines.list.get(2).getLevel()).isEqualTo(Level.INFO);
      assertThat(lines.list.get(2).getFormattedMessage()).contains("answers again");
    } finally {
      logger.detachAppender(lines);
      logger.setLevel(before);
    }
  }

  /** A clock the test moves. */
  private static final class MutableClock extends Clock {
    Instant now = Instant.parse("2026-12-03T08:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  @Test
  void settingsHideSecrets() {
    PrometheusSettings s =
        PrometheusSettings.of(URI.create("https://prom:9090")).withBasicAuth("u", "p");
    assertThat(s.headers().get("Authorization")).isEqualTo("Basic dTpw");
    assertThat(s.toString()).doesNotContain("dTpw");
    assertThatThrownBy(() -> PrometheusSettings.of(URI.create("prom:9090")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must start with http");
  }
}
