package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListMeta;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.dsl.internal.AbstractWatchManager;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.informers.impl.ListerWatcher;
import io.weighbridge.domain.Echo;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The Rollout informer's LIST, decoded item by item: one Rollout that cannot be read (nested deeper
 * than {@value #MAX_ITEM_DEPTH} levels, which the API server accepts up to 10,000 deep but
 * Jackson's and fabric8's readers refuse past 500) is skipped and reported, instead of failing the
 * whole LIST and so blinding the analyzer to every Rollout of the cluster. Watches stay fabric8's:
 * an event it cannot read closes the watch, the informer lists again here, and the bad object is
 * skipped once more.
 */
final class ItemTolerantRolloutList
    implements ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList> {

  /** The deepest Rollout passed on; the informer's later readers (fabric8, Jackson) stop at 500. */
  static final int MAX_ITEM_DEPTH = 400;

  /** A Rollout left out of a LIST, and why. */
  record Skipped(String namespace, String name, String resourceVersion, String reason) {}

  /** Reads as deep as the API server writes: the tokenizer does not recurse, nor does readTree. */
  private static final ObjectMapper DEEP =
      JsonMapper.builder(
              JsonFactory.builder()
                  .streamReadConstraints(
                      StreamReadConstraints.builder().maxNestingDepth(100_000).build())
                  .build())
          .build();

  private final KubernetesClient client;
  private final ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList> watches;
  private final Consumer<List<Skipped>> listed;
  private final List<Skipped> pages = new ArrayList<>();

  /**
   * @param client the client whose HTTP client lists and whose serialization builds the items
   * @param watches fabric8's operation on all Rollouts, which watches
   * @param listed told after each complete LIST which Rollouts it skipped (often none)
   */
  ItemTolerantRolloutList(
      KubernetesClient client,
      ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList> watches,
      Consumer<List<Skipped>> listed) {
    this.client = client;
    this.watches = watches;
    this.listed = listed;
  }

  @Override
  public CompletableFuture<GenericKubernetesResourceList> submitList(ListOptions options) {
    HttpRequest request =
        client.getHttpClient().newHttpRequestBuilder().uri(listUri(options)).build();
    return client
        .getHttpClient()
        .sendAsync(request, byte[].class)
        .thenApply(response -> decode(response, options));
  }

  private URI listUri(ListOptions options) {
    StringBuilder query = new StringBuilder();
    param(query, "resourceVersion", options.getResourceVersion());
    param(query, "resourceVersionMatch", options.getResourceVersionMatch());
    param(query, "limit", options.getLimit() == null ? null : options.getLimit().toString());
    param(query, "continue", options.getContinue());
    param(query, "labelSelector", options.getLabelSelector());
    param(query, "fieldSelector", options.getFieldSelector());
    param(
        query,
        "timeoutSeconds",
        options.getTimeoutSeconds() == null ? null : options.getTimeoutSeconds().toString());
    String master = client.getMasterUrl().toString();
    return URI.create(
        (master.endsWith("/") ? master : master + "/")
            + "apis/"
            + KubernetesRolloutActions.ROLLOUTS.getGroup()
            + "/"
            + KubernetesRolloutActions.ROLLOUTS.getVersion()
            + "/"
            + KubernetesRolloutActions.ROLLOUTS.getPlural()
            + query);
  }

  private static void param(StringBuilder query, String name, String value) {
    if (value != null && !value.isEmpty()) {
      query.append(query.isEmpty() ? '?' : '&').append(name).append('=');
      query.append(URLEncoder.encode(value, StandardCharsets.UTF_8));
    }
  }

  private GenericKubernetesResourceList decode(HttpResponse<byte[]> response, ListOptions options) {
    byte[] body = response.body() == null ? new byte[0] : response.body();
    if (!response.isSuccessful()) {
      throw new KubernetesClientException(
          "listing Rollouts failed: HTTP "
              + response.code()
              + ": "
              + Echo.cut(new String(body, StandardCharsets.UTF_8), 500),
          response.code(),
          null);
    }
    GenericKubernetesResourceList list = new GenericKubernetesResourceList();
    ListMeta meta = new ListMeta();
    list.setMetadata(meta);
    List<GenericKubernetesResource> items = new ArrayList<>();
    List<Skipped> skipped = new ArrayList<>();
    try (JsonParser parser = DEEP.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("the answer is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        parser.nextToken();
        switch (field) {
          case "metadata" -> {
            JsonNode m = DEEP.readTree(parser);
            meta.setResourceVersion(text(m, "resourceVersion"));
            meta.setContinue(text(m, "continue"));
          }
          case "items" -> {
            while (parser.nextToken() != JsonToken.END_ARRAY) {
              item(DEEP.readTree(parser), items, skipped);
            }
          }
          default -> parser.skipChildren();
        }
      }
    } catch (IOException e) {
      throw new KubernetesClientException(
          "the API server's list of Rollouts cannot be read: " + e.getMessage(), e);
    }
    list.setItems(items);
    synchronized (pages) {
      if (options.getContinue() == null || options.getContinue().isEmpty()) {
        pages.clear();
      }
      pages.addAll(skipped);
      if (meta.getContinue() == null || meta.getContinue().isEmpty()) {
        listed.accept(List.copyOf(pages));
      }
    }
    return list;
  }

  private void item(JsonNode node, List<GenericKubernetesResource> items, List<Skipped> skipped) {
    int depth = depth(node, MAX_ITEM_DEPTH);
    if (depth <= MAX_ITEM_DEPTH) {
      try {
        // fabric8 builds the object from text (its convertValue of a tree loses the metadata).
        items.add(
            client
                .getKubernetesSerialization()
                .unmarshal(node.toString(), GenericKubernetesResource.class));
        return;
      } catch (RuntimeException e) {
        skipped.add(skippedOf(node, "it cannot be read: " + Echo.value(e.getMessage())));
        return;
      }
    }
    skipped.add(
        skippedOf(
            node,
            "it is nested more than "
                + MAX_ITEM_DEPTH
                + " levels deep, deeper than plugin-server reads"));
  }

  private static Skipped skippedOf(JsonNode node, String reason) {
    JsonNode m = node.path("metadata");
    return new Skipped(
        Echo.value(text(m, "namespace")),
        Echo.value(text(m, "name")),
        text(m, "resourceVersion"),
        reason);
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || !v.isValueNode() ? "" : v.asText();
  }

  /** The nesting depth of {@code node} (a scalar is 0), counted without recursion up to a bound. */
  static int depth(JsonNode node, int bound) {
    record Level(JsonNode node, int depth) {}
    Deque<Level> todo = new ArrayDeque<>();
    todo.push(new Level(node, 0));
    int max = 0;
    while (!todo.isEmpty()) {
      Level level = todo.pop();
      if (!level.node().isContainerNode()) {
        continue;
      }
      int d = level.depth() + 1;
      max = Math.max(max, d);
      if (max > bound) {
        return max;
      }
      for (Iterator<JsonNode> it = level.node().elements(); it.hasNext(); ) {
        todo.push(new Level(it.next(), d));
      }
    }
    return max;
  }

  @Override
  public CompletableFuture<AbstractWatchManager<GenericKubernetesResource>> submitWatch(
      ListOptions options, Watcher<GenericKubernetesResource> watcher) {
    return watches.submitWatch(options, watcher);
  }

  @Override
  public Long getLimit() {
    return watches.getLimit();
  }

  @Override
  public int getWatchReconnectInterval() {
    return watches.getWatchReconnectInterval();
  }

  @Override
  public String getApiEndpointPath() {
    return watches.getApiEndpointPath();
  }

  @Override
  public Config getConfig() {
    return watches.getConfig();
  }
}
