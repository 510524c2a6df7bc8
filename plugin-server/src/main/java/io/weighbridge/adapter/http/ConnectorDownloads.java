package io.weighbridge.adapter.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the connector binaries so that Argo Rollouts' {@code trafficRouterPlugins[].location} can
 * point at this plugin-server and always get the connector of the same version: {@code GET
 * /connector/<os>-<arch>} streams {@code <dir>/weighbridge-connector-<os>-<arch>}, and {@code GET
 * /connector/<os>-<arch>.sha256} answers its SHA-256 as {@code sha256sum} prints it (hex, two
 * spaces, file name). Names are matched against a strict pattern, so no request can reach another
 * file. Downloads run on a small pool of their own: a slow client never holds the threads that
 * answer the Kubernetes probes.
 */
public final class ConnectorDownloads implements HttpHandler, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ConnectorDownloads.class);

  /** The path prefix this handler serves. */
  public static final String PREFIX = "/connector/";

  /** The file name of the binary for {@code <os>-<arch>}. */
  public static final String FILE_PREFIX = "weighbridge-connector-";

  private static final Pattern PLATFORM =
      Pattern.compile("^([a-z0-9]{1,16}-[a-z0-9_]{1,16})(\\.sha256)?$");
  private static final String TEXT = "text/plain; charset=utf-8";
  private static final int DOWNLOAD_THREADS = 4;
  private static final int DOWNLOADS_WAITING = 16;

  private record Digest(long size, long modifiedMillis, String hex) {}

  private final Path dir;
  private final ThreadPoolExecutor downloads;
  private final Map<Path, Digest> digests = new ConcurrentHashMap<>();

  /** Serves the binaries in {@code dir} (which may not exist: then every request is a 404). */
  public ConnectorDownloads(Path dir) {
    this.dir = dir;
    this.downloads =
        new ThreadPoolExecutor(
            DOWNLOAD_THREADS,
            DOWNLOAD_THREADS,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(DOWNLOADS_WAITING),
            Thread.ofPlatform().name("weighbridge-download-", 1).daemon().factory());
    downloads.allowCoreThreadTimeOut(true);
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    String method = exchange.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      text(exchange, 405, "method " + method + " not allowed: use GET\n");
      return;
    }
    String rest = exchange.getRequestURI().getPath().substring(PREFIX.length() - 1);
    Matcher m = PLATFORM.matcher(rest.startsWith("/") ? rest.substring(1) : rest);
    if (!m.matches()) {
      text(
          exchange,
          404,
          "not found: ask for /connector/<os>-<arch> or /connector/<os>-<arch>.sha256;"
              + " available: "
              + available()
              + "\n");
      return;
    }
    String platform = m.group(1);
    boolean sha = m.group(2) != null;
    Path binary = dir.resolve(FILE_PREFIX + platform);
    try {
      downloads.execute(() -> serve(exchange, platform, binary, sha));
    } catch (RejectedExecutionException e) {
      exchange.getResponseHeaders().set("Retry-After", "5");
      text(exchange, 503, "too many connector downloads at once: retry in a few seconds\n");
    }
  }

  private void serve(HttpExchange exchange, String platform, Path binary, boolean sha) {
    try (exchange) {
      BasicFileAttributes attributes;
      try {
        attributes = Files.readAttributes(binary, BasicFileAttributes.class);
      } catch (NoSuchFileException e) {
        attributes = null;
      }
      if (attributes == null || !attributes.isRegularFile()) {
        text(
            exchange,
            404,
            "no connector for "
                + platform
                + " in "
                + dir
                + " (--connector-dir); available: "
                + available()
                + "\n");
        return;
      }
      if (sha) {
        text(exchange, 200, digest(binary, attributes) + "  " + binary.getFileName() + "\n");
        return;
      }
      exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
      exchange
          .getResponseHeaders()
          .set("Content-Disposition", "attachment; filename=\"" + binary.getFileName() + "\"");
      exchange.getResponseHeaders().set("Cache-Control", "no-cache");
      boolean head = exchange.getRequestMethod().equals("HEAD");
      long size = attributes.size();
      exchange.sendResponseHeaders(200, head || size == 0 ? -1 : size);
      if (!head) {
        try (InputStream in = Files.newInputStream(binary);
            OutputStream out = exchange.getResponseBody()) {
          in.transferTo(out);
        }
      }
    } catch (IOException | UncheckedIOException e) {
      // Mostly a client that went away mid-download; Argo retries at its next start.
      log.warn("serving the connector for {} failed: {}", platform, e.toString());
    }
  }

  /** The SHA-256 of the binary, computed once per size and modification time. */
  private String digest(Path binary, BasicFileAttributes attributes) throws IOException {
    long modified = attributes.lastModifiedTime().toMillis();
    Digest known = digests.get(binary);
    if (known != null && known.size() == attributes.size() && known.modifiedMillis() == modified) {
      return known.hex();
    }
    MessageDigest sha256;
    try {
      sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
    try (InputStream in = new DigestInputStream(Files.newInputStream(binary), sha256)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    String hex = HexFormat.of().formatHex(sha256.digest());
    digests.put(binary, new Digest(attributes.size(), modified, hex));
    return hex;
  }

  /**
   * The platforms present, e.g. {@code linux-amd64, linux-arm64}, or a note that there are none.
   */
  private String available() {
    List<String> platforms;
    try (Stream<Path> files = Files.list(dir)) {
      platforms =
          files
              .map(file -> file.getFileName().toString())
              .filter(name -> name.startsWith(FILE_PREFIX) && !name.endsWith(".sha256"))
              .map(name -> name.substring(FILE_PREFIX.length()))
              .filter(name -> PLATFORM.matcher(name).matches())
              .sorted()
              .toList();
    } catch (IOException e) {
      return "none (" + dir + " cannot be read: set --connector-dir to the connector folder)";
    }
    return platforms.isEmpty()
        ? "none (" + dir + " holds no " + FILE_PREFIX + "<os>-<arch>)"
        : String.join(", ", platforms);
  }

  private static void text(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    try (exchange) {
      exchange.getResponseHeaders().set("Content-Type", TEXT);
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      boolean head = exchange.getRequestMethod().equals("HEAD");
      exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(bytes);
        }
      }
    }
  }

  /** Stops the download threads; downloads in progress are cut off. */
  @Override
  public void close() {
    downloads.shutdownNow();
  }
}
