package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Builds an RFC 6902 JSON patch and applies every operation at once to a working copy of the
 * object, so that each following operation is computed against the state the previous ones leave
 * behind (indices after a removal, for instance). The planners read {@link #current()} and record
 * changes here; the op list is then valid in sequence by construction.
 *
 * <p>Only add, remove, replace and test are used: they are all the engine needs, and the Kubernetes
 * API server (evanphx/json-patch) applies them identically.
 */
final class JsonPatchBuilder {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** Compares numbers by value, so that 1 (int) equals 1 (long) as JSON requires. */
  private static final Comparator<JsonNode> JSON_EQUALITY =
      (a, b) -> {
        if (a.isNumber() && b.isNumber()) {
          return a.decimalValue().compareTo(b.decimalValue());
        }
        return a.equals(b) ? 0 : 1;
      };

  private final JsonNode working;
  private final List<JsonNode> ops = new ArrayList<>();

  /** Starts from a deep copy of {@code object}; the argument is never changed. */
  JsonPatchBuilder(JsonNode object) {
    this.working = object.deepCopy();
  }

  /** The object with every recorded operation applied. Read it; never change it directly. */
  JsonNode current() {
    return working;
  }

  /** The node at {@code pointer} in {@link #current()}, or a missing node. */
  JsonNode at(String pointer) {
    return pointer.isEmpty() ? working : working.at(pointer);
  }

  /** The recorded operations, in order. */
  List<JsonNode> ops() {
    return List.copyOf(ops);
  }

  /** True when nothing but tests were recorded: the object would not change. */
  boolean changesNothing() {
    return ops.stream().allMatch(op -> op.path("op").asText().equals("test"));
  }

  /** Guards that {@code pointer} holds {@code value} at this point of the patch. */
  void test(String pointer, JsonNode value) {
    JsonNode actual = at(pointer);
    if (actual.isMissingNode() || !actual.equals(JSON_EQUALITY, value)) {
      throw new IllegalStateException("test " + pointer + " would fail on the planned object");
    }
    record("test", pointer, value);
  }

  /** Guards that {@code pointer} still holds what it holds now. */
  void testCurrent(String pointer) {
    test(pointer, at(pointer).deepCopy());
  }

  /**
   * Adds (or, in an object, sets) {@code value} at {@code pointer}; {@code -} appends to arrays.
   */
  void add(String pointer, JsonNode value) {
    Target t = target(pointer);
    JsonNode copy = value.deepCopy();
    if (t.parent instanceof ObjectNode o) {
      o.set(t.token, copy);
    } else if (t.parent instanceof ArrayNode a) {
      if (t.token.equals("-")) {
        a.add(copy);
      } else {
        int i = index(t.token, a.size() + 1, pointer);
        a.insert(i, copy);
      }
    } else {
      throw new IllegalStateException("add " + pointer + ": parent is not a container");
    }
    record("add", pointer, value);
  }

  /** Adds an empty object at {@code pointer} unless something is there already. */
  void ensureObject(String pointer) {
    if (at(pointer).isMissingNode() || at(pointer).isNull()) {
      add(pointer, NODES.objectNode());
    }
  }

  /** Replaces the existing value at {@code pointer}. */
  void replace(String pointer, JsonNode value) {
    Target t = target(pointer);
    JsonNode copy = value.deepCopy();
    if (t.parent instanceof ObjectNode o && o.has(t.token)) {
      o.set(t.token, copy);
    } else if (t.parent instanceof ArrayNode a) {
      a.set(index(t.token, a.size(), pointer), copy);
    } else {
      throw new IllegalStateException("replace " + pointer + ": nothing there");
    }
    record("replace", pointer, value);
  }

  /** Sets {@code value} at {@code pointer}: replace when present, add when absent. */
  void set(String pointer, JsonNode value) {
    if (at(pointer).isMissingNode()) {
      add(pointer, value);
    } else {
      replace(pointer, value);
    }
  }

  /** Removes the existing value at {@code pointer}. */
  void remove(String pointer) {
    Target t = target(pointer);
    if (t.parent instanceof ObjectNode o && o.has(t.token)) {
      o.remove(t.token);
    } else if (t.parent instanceof ArrayNode a) {
      a.remove(index(t.token, a.size(), pointer));
    } else {
      throw new IllegalStateException("remove " + pointer + ": nothing there");
    }
    record("remove", pointer, null);
  }

  /** Escapes one reference token (RFC 6901): {@code ~} and {@code /}. */
  static String escape(String token) {
    return token.replace("~", "~0").replace("/", "~1");
  }

  /** Joins tokens into a pointer, escaping each. */
  static String pointer(Object... tokens) {
    StringBuilder sb = new StringBuilder();
    for (Object t : tokens) {
      sb.append('/').append(escape(String.valueOf(t)));
    }
    return sb.toString();
  }

  private record Target(JsonNode parent, String token) {}

  private Target target(String pointer) {
    int slash = pointer.lastIndexOf('/');
    if (slash < 0) {
      throw new IllegalStateException("not a JSON pointer: " + pointer);
    }
    JsonNode parent = at(pointer.substring(0, slash));
    String token = pointer.substring(slash + 1).replace("~1", "/").replace("~0", "~");
    return new Target(parent, token);
  }

  private static int index(String token, int limit, String pointer) {
    try {
      int i = Integer.parseInt(token);
      if (i >= 0 && i < limit) {
        return i;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new IllegalStateException(pointer + ": bad array index " + token);
  }

  private void record(String op, String pointer, JsonNode value) {
    ObjectNode node = NODES.objectNode();
    node.put("op", op);
    node.set("path", TextNode.valueOf(pointer));
    if (value != null) {
      node.set("value", value.deepCopy());
    }
    ops.add(node);
  }
}
