package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/**
 * Reads the analyzer's verdicts from a plugin-server's {@code GET /api/v1/analyses}. Never throws
 * for an unreachable or odd server: the answer says what went wrong, because {@code status} must
 * still show the routes.
 */
public final class AnalysesClient {

  /** The path plugin-server serves the analyses on (HTTP port). */
  static final String PATH = "/api/v1/analyses";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http;
  private final Duration timeout;

  /** Uses {@code http} with {@code timeout} per request. */
  public AnalysesClient(HttpClient http, Duration timeout) {
    this.http = http;
    this.timeout = timeout;
  }

  /**
   * The answer of one request.
   *
   * @param body the parsed JSON, when the server answered 200 with JSON
   * @param problem what went wrong otherwise
   */
  public record Answer(Optional<JsonNode> body, String problem) {

    /** The analysis entry for {@code namespace/rollout}, if the server has one. */
    public Optional<JsonNode> analysis(String namespace, String rollout) {
      if (body.isEmpty()) {
        return Optional.empty();
      }
      for (JsonNode a : body.get().path("analyses")) {
        if (a.path("namespace").asText().equals(namespace)
            && a.path("rollout").asText().equals(rollout)) {
          return Optional.of(a);
        }
      }
      return Optional.empty();
    }
  }

  /** Asks {@code serverUrl}'s analyses endpoint. */
  public Answer fetch(URI serverUrl) {
    URI uri = Urls.resolve(serverUrl, PATH);
    try {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(uri)
                  .timeout(timeout)
                  .header("Accept", "application/json")
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return new Answer(
            Optional.empty(),
            uri
                + " answered HTTP "
                + response.statusCode()
                + (response.statusCode() == 404
                    ? " (a plugin-server without the analyzer, or not a plugin-server)"
                    : ""));
      }
      JsonNode body = JSON.readTree(response.body());
      if (body == null || !body.path("analyses").isArray()) {
        return new Answer(Optional.empty(), uri + " answered without an \"analyses\" list");
      }
      return new Answer(Optional.of(body), null);
    } catch (IOException e) {
      return new Answer(
          Optional.empty(),
          "cannot reach "
              + uri
              + ": "
              + Urls.describe(e)
              + " (from outside the cluster: kubectl -n argo-rollouts port-forward svc/weighbridge"
              + " 8080, then --server-url http://localhost:8080)");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Answer(Optional.empty(), "interrupted while asking " + uri);
    }
  }
}
