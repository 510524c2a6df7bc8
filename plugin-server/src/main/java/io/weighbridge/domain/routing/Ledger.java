package io.weighbridge.domain.routing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.routing.Desired.ExperimentWeight;
import io.weighbridge.domain.routing.RoutingConfig.InProgressLabel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Weighbridge's bookkeeping on one route, stored in the annotation {@value #ANNOTATION} as compact
 * JSON: per Rollout, the experiment backends and the header/mirror rules it added, and whether it
 * holds a reference on the in-progress label. Removals remove exactly what is recorded here, so
 * nothing is ever guessed from the shape of a rule, and two Rollouts sharing a route do not fight.
 *
 * <p>Format: {@code {"version":1,"rollouts":{"<ns>/<name>":{"uid":..,"inProgress":true,
 * "label":{"key":..,"value":..},"experiments":[{"namespace":..,"name":..}],
 * "rules":[{"managedRoute":..,"type":"header|mirror","name":..,"fingerprint":..}],
 * "weights":{"canary":..,"stable":..,"experiments":[{"namespace":..,"name":..,"weight":..}]}}}}}.
 * Keys are written in a fixed order so that an unchanged ledger serializes identically (no write).
 * {@code weights} (the last SetWeight while its canary is in progress, so that a restarted
 * plugin-server can resume restoring drift before Argo's next call) came later: entries without it
 * still parse.
 *
 * <p>A working copy, mutated by the planners of one call.
 */
final class Ledger {

  /** The annotation holding the ledger. */
  static final String ANNOTATION = "weighbridge.io/managed";

  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** What a managed rule is for. */
  enum RuleType {
    /** Added by SetHeaderRoute. */
    HEADER("header"),
    /** Added by SetMirrorRoute. */
    MIRROR("mirror");

    private final String json;

    RuleType(String json) {
      this.json = json;
    }

    static RuleType parse(String s) {
      for (RuleType t : values()) {
        if (t.json.equals(s)) {
          return t;
        }
      }
      return null;
    }
  }

  /**
   * One rule a Rollout added.
   *
   * @param managedRoute Argo's managed route name (SetHeaderRoute/SetMirrorRoute name)
   * @param type header or mirror
   * @param ruleName the rule's spec.rules[].name, or null when the served schema has no rule names
   * @param fingerprint {@link RuleFingerprint} of the rule as written: finds it when it has no name
   */
  record ManagedRule(String managedRoute, RuleType type, String ruleName, String fingerprint) {}

  /**
   * One Rollout's entry.
   *
   * @param uid the Rollout's uid
   * @param inProgress whether its last SetWeight sent traffic to canary (weight > 0)
   * @param label the in-progress label it wants while active, or null when disabled
   * @param experiments experiment Services it added as backends
   * @param rules rules it added
   * @param weights the weights of its last SetWeight while its canary is in progress (canary weight
   *     or experiments), else null
   */
  record Entry(
      String uid,
      boolean inProgress,
      InProgressLabel label,
      List<ServiceRef> experiments,
      List<ManagedRule> rules,
      Desired weights) {

    /** Copies the lists; in-progress only matters (and is only kept) with a label. */
    Entry {
      experiments = List.copyOf(experiments);
      rules = List.copyOf(rules);
      inProgress = inProgress && label != null;
    }

    /** An entry without recorded weights (as before weights were recorded). */
    Entry(
        String uid,
        boolean inProgress,
        InProgressLabel label,
        List<ServiceRef> experiments,
        List<ManagedRule> rules) {
      this(uid, inProgress, label, experiments, rules, null);
    }

    /** An entry that holds nothing. */
    static Entry empty(String uid) {
      return new Entry(uid, false, null, List.of(), List.of(), null);
    }

    /** True when the Rollout wants the in-progress label on the route. */
    boolean wantsLabel() {
      return label != null && (inProgress || !rules.isEmpty() || !experiments.isEmpty());
    }

    /** True when there is nothing to record. */
    boolean isEmpty() {
      return !wantsLabel() && rules.isEmpty() && experiments.isEmpty() && weights == null;
    }

    Entry withInProgress(boolean v, InProgressLabel l) {
      return new Entry(uid, v, l, experiments, rules, weights);
    }

    /** The same entry wanting {@code l} (the Rollout's current configuration) as its label. */
    Entry withLabel(InProgressLabel l) {
      return new Entry(uid, inProgress, l, experiments, rules, weights);
    }

    Entry withExperiments(List<ServiceRef> v) {
      return new Entry(uid, inProgress, label, v, rules, weights);
    }

    Entry withRules(List<ManagedRule> v) {
      return new Entry(uid, inProgress, label, experiments, v, weights);
    }

    /**
     * The same entry recording {@code d} when it leaves the canary in progress (canary weight or
     * experiments), or no weights when it ends it.
     */
    Entry withWeights(Desired d) {
      boolean active = d != null && (d.canary() > 0 || !d.experiments().isEmpty());
      return new Entry(uid, inProgress, label, experiments, rules, active ? d : null);
    }

    /** This entry's rules with those of one managed route replaced by {@code replacement}. */
    Entry replacingRules(String managedRoute, RuleType type, List<ManagedRule> replacement) {
      List<ManagedRule> kept = new ArrayList<>();
      for (ManagedRule r : rules) {
        if (!(r.managedRoute().equals(managedRoute) && r.type() == type)) {
          kept.add(r);
        }
      }
      kept.addAll(replacement);
      return withRules(kept);
    }
  }

  private final TreeMap<String, Entry> entries;

  private Ledger(Map<String, Entry> entries) {
    this.entries = new TreeMap<>(entries);
  }

  /** An empty ledger. */
  static Ledger empty() {
    return new Ledger(Map.of());
  }

  /**
   * Reads the ledger from the route's annotation.
   *
   * @throws InvalidConfigException when the annotation was edited into something unreadable
   */
  static Ledger read(JsonNode route, RouteId id) {
    String text = RouteJson.annotation(route, ANNOTATION);
    if (text == null || text.isBlank()) {
      return empty();
    }
    try {
      JsonNode root = MAPPER.readTree(text);
      JsonNode rollouts = root.path("rollouts");
      if (!root.isObject() || !rollouts.isObject()) {
        throw new IllegalArgumentException("not an object with \"rollouts\"");
      }
      Map<String, Entry> entries = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> e : rollouts.properties()) {
        entries.put(e.getKey(), parseEntry(e.getValue()));
      }
      return new Ledger(entries);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new InvalidConfigException(
          "annotation "
              + ANNOTATION
              + " on "
              + id
              + " is not Weighbridge's bookkeeping any more ("
              + e.getMessage()
              + "): it was edited by hand or by a tool; restore it, or delete it (Weighbridge then"
              + " forgets which header/mirror rules and experiment backends it added, and you"
              + " remove those by hand)",
          e);
    }
  }

  private static Entry parseEntry(JsonNode node) {
    if (!node.isObject()) {
      throw new IllegalArgumentException("a Rollout entry is not an object");
    }
    InProgressLabel label = null;
    JsonNode l = node.path("label");
    if (l.isObject()) {
      label = new InProgressLabel(required(l, "key"), required(l, "value"));
    }
    List<ServiceRef> experiments = new ArrayList<>();
    for (JsonNode x : node.path("experiments")) {
      experiments.add(new ServiceRef(required(x, "namespace"), required(x, "name")));
    }
    List<ManagedRule> rules = new ArrayList<>();
    for (JsonNode r : node.path("rules")) {
      RuleType type = RuleType.parse(r.path("type").asText());
      if (type == null) {
        throw new IllegalArgumentException("unknown rule type " + r.path("type"));
      }
      JsonNode name = r.get("name");
      rules.add(
          new ManagedRule(
              required(r, "managedRoute"),
              type,
              name == null || name.isNull() ? null : name.asText(),
              required(r, "fingerprint")));
    }
    return new Entry(
        node.path("uid").asText(""),
        node.path("inProgress").asBoolean(false),
        label,
        experiments,
        rules,
        parseWeights(node.get("weights")));
  }

  /** The recorded weights; absent in ledgers written before they were recorded. */
  private static Desired parseWeights(JsonNode w) {
    if (w == null || w.isNull()) {
      return null;
    }
    if (!w.isObject()) {
      throw new IllegalArgumentException("\"weights\" is not an object");
    }
    List<ExperimentWeight> experiments = new ArrayList<>();
    for (JsonNode x : w.path("experiments")) {
      experiments.add(
          new ExperimentWeight(
              new ServiceRef(required(x, "namespace"), required(x, "name")),
              requiredInt(x, "weight")));
    }
    return new Desired(requiredInt(w, "canary"), requiredInt(w, "stable"), experiments);
  }

  private static int requiredInt(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0) {
      throw new IllegalArgumentException("missing or negative \"" + field + "\"");
    }
    return v.asInt();
  }

  private static String required(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("missing \"" + field + "\"");
    }
    return v.asText();
  }

  /** A deep copy (entries are immutable). */
  Ledger copy() {
    return new Ledger(entries);
  }

  /** The Rollout's entry, or an empty one. */
  Entry entry(String rolloutKey, String uid) {
    Entry e = entries.get(rolloutKey);
    return e != null ? e : Entry.empty(uid);
  }

  /** Stores the Rollout's entry; an empty entry is dropped. */
  void put(String rolloutKey, Entry entry) {
    if (entry.isEmpty()) {
      entries.remove(rolloutKey);
    } else {
      entries.put(rolloutKey, entry);
    }
  }

  /** Drops the Rollout's entry. */
  void remove(String rolloutKey) {
    entries.remove(rolloutKey);
  }

  /** Every entry, by Rollout key in sorted order. */
  Map<String, Entry> entries() {
    return Collections.unmodifiableMap(entries);
  }

  /** The annotation value, or null when nothing is recorded. */
  String toJson() {
    if (entries.isEmpty()) {
      return null;
    }
    ObjectNode root = MAPPER.createObjectNode();
    root.put("version", 1);
    ObjectNode rollouts = root.putObject("rollouts");
    entries.forEach((key, e) -> rollouts.set(key, entryJson(e)));
    return root.toString();
  }

  private static ObjectNode entryJson(Entry e) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("uid", e.uid());
    if (e.inProgress()) {
      n.put("inProgress", true);
    }
    if (e.label() != null) {
      n.putObject("label").put("key", e.label().key()).put("value", e.label().value());
    }
    if (!e.experiments().isEmpty()) {
      ArrayNode xs = n.putArray("experiments");
      e.experiments().stream()
          .sorted(Comparator.comparing(ServiceRef::toString))
          .forEach(x -> xs.addObject().put("namespace", x.namespace()).put("name", x.name()));
    }
    if (!e.rules().isEmpty()) {
      ArrayNode rs = n.putArray("rules");
      for (ManagedRule r : e.rules()) {
        ObjectNode o = rs.addObject();
        o.put("managedRoute", r.managedRoute()).put("type", r.type().json);
        if (r.ruleName() != null) {
          o.put("name", r.ruleName());
        }
        o.put("fingerprint", r.fingerprint());
      }
    }
    if (e.weights() != null) {
      ObjectNode w = n.putObject("weights");
      w.put("canary", e.weights().canary()).put("stable", e.weights().stable());
      if (!e.weights().experiments().isEmpty()) {
        ArrayNode xs = w.putArray("experiments");
        e.weights().experiments().stream()
            .sorted(Comparator.comparing(x -> x.service().toString()))
            .forEach(
                x ->
                    xs.addObject()
                        .put("namespace", x.service().namespace())
                        .put("name", x.service().name())
                        .put("weight", x.weight()));
      }
    }
    return n;
  }

  /**
   * Records the ledger and the in-progress labels it implies; the calling Rollout's entry takes the
   * label of its current configuration. The annotation is written only when its text changes; a
   * label is set while any Rollout in the ledger wants it, and removed only when a Rollout that
   * wanted it (before this call, or by this call's configuration) is done and no other one still
   * wants it: a label someone else set on purpose is left alone.
   */
  static void write(JsonPatchBuilder b, Ledger before, Ledger after, RouteContext ctx) {
    Entry own = after.entries.get(ctx.rolloutKey());
    if (own != null) {
      after.put(ctx.rolloutKey(), own.withLabel(ctx.label().orElse(null)));
    }
    String newText = after.toJson();
    String oldText = RouteJson.annotation(b.current(), ANNOTATION);
    String annotationPtr = "/metadata/annotations/" + JsonPatchBuilder.escape(ANNOTATION);
    if (!Objects.equals(newText, oldText)) {
      if (newText == null) {
        b.testCurrent(annotationPtr);
        removeKey(b, "/metadata/annotations", ANNOTATION);
      } else if (oldText == null) {
        b.ensureObject("/metadata/annotations");
        b.add(annotationPtr, TextNode.valueOf(newText));
      } else {
        b.testCurrent(annotationPtr);
        b.replace(annotationPtr, TextNode.valueOf(newText));
      }
    }

    Map<String, String> wanted = new TreeMap<>();
    for (Entry e : after.entries.values()) {
      if (e.wantsLabel()) {
        wanted.putIfAbsent(e.label().key(), e.label().value());
      }
    }
    Map<String, List<String>> releasable = new TreeMap<>();
    for (Entry e : before.entries.values()) {
      if (e.label() != null) {
        releasable.computeIfAbsent(e.label().key(), k -> new ArrayList<>()).add(e.label().value());
      }
    }
    ctx.label()
        .ifPresent(l -> releasable.computeIfAbsent(l.key(), k -> new ArrayList<>()).add(l.value()));

    Map<String, String> current = RouteJson.labels(b.current());
    for (Map.Entry<String, String> w : wanted.entrySet()) {
      if (!w.getValue().equals(current.get(w.getKey()))) {
        b.ensureObject("/metadata/labels");
        b.add(
            "/metadata/labels/" + JsonPatchBuilder.escape(w.getKey()),
            TextNode.valueOf(w.getValue()));
      }
    }
    for (Map.Entry<String, List<String>> r : releasable.entrySet()) {
      String value = current.get(r.getKey());
      if (!wanted.containsKey(r.getKey()) && value != null && r.getValue().contains(value)) {
        removeKey(b, "/metadata/labels", r.getKey());
      }
    }
  }

  /** Removes a map entry, and the map when it becomes empty (as the API server would omit it). */
  private static void removeKey(JsonPatchBuilder b, String mapPointer, String key) {
    if (b.at(mapPointer).size() == 1) {
      b.remove(mapPointer);
    } else {
      b.remove(mapPointer + "/" + JsonPatchBuilder.escape(key));
    }
  }
}
