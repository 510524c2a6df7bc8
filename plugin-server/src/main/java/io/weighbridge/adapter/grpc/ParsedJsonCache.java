package io.weighbridge.adapter.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import java.util.Iterator;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The last parsed JSON of each Rollout, reused while the connector sends the very same bytes again.
 * Argo calls the plugin on every reconcile of a Rollout, mostly with an unchanged object, and
 * parsing the whole Rollout was the largest cost of a call in plugin-server's own code (JFR, make
 * bench). A hit needs byte-for-byte equal JSON, so a changed status or spec is always parsed
 * afresh; the trees are shared between calls and must not be modified (as {@link
 * io.weighbridge.domain.Rollout} says). At most {@code capacity} Rollouts are kept; beyond that an
 * arbitrary entry makes room.
 */
final class ParsedJsonCache {
  private record Entry(ByteString json, JsonNode node) {}

  private final int capacity;
  private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

  /** A cache of at most {@code capacity} Rollouts. */
  ParsedJsonCache(int capacity) {
    this.capacity = capacity;
  }

  /** The tree parsed from exactly these bytes for this Rollout, or null. */
  JsonNode find(String key, ByteString json) {
    Entry e = entries.get(key);
    return e != null && e.json().equals(json) ? e.node() : null;
  }

  /** Remembers the tree parsed from these bytes, replacing the Rollout's previous one. */
  void remember(String key, ByteString json, JsonNode node) {
    if (entries.size() >= capacity && !entries.containsKey(key)) {
      Iterator<String> any = entries.keySet().iterator();
      if (any.hasNext()) {
        entries.remove(any.next());
      }
    }
    entries.put(key, new Entry(json, node));
  }

  /** Rollouts held now. */
  int size() {
    return entries.size();
  }
}
