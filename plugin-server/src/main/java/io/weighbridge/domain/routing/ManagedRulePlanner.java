package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.routing.Ledger.Entry;
import io.weighbridge.domain.routing.Ledger.ManagedRule;
import io.weighbridge.domain.routing.Ledger.RuleType;
import io.weighbridge.domain.routing.RuleSelection.ManagedIndex;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Adds, updates and removes the rules Weighbridge manages for Argo's managed routes (header and
 * mirror rules), using the ledger to know exactly which rules are ours. Shared by every kind and
 * both rule types.
 */
final class ManagedRulePlanner {
  private static final Pattern RULE_NAME =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private ManagedRulePlanner() {}

  /**
   * The name of the {@code k}-th rule of a managed route: the route's name, then {@code name-1},
   * {@code name-2}... (the incumbent's scheme, so that dashboards keep working).
   */
  static String ruleName(String managedRoute, int k) {
    return k == 0 ? managedRoute : managedRoute + "-" + k;
  }

  /**
   * Fails unless {@code name} can be a Gateway API rule name.
   *
   * @param what names the step in the message, e.g. {@code setHeaderRoute "canary"}
   */
  static void checkRuleName(String name, String what) {
    if (name.length() > 253 || !RULE_NAME.matcher(name).matches()) {
      throw new InvalidConfigException(
          what
              + ": \""
              + name
              + "\" cannot be a Gateway API rule name (lowercase letters, digits, '-' and '.'),"
              + " which Weighbridge gives the rule it adds: rename the managed route in"
              + " trafficRouting.managedRoutes and in the step");
    }
  }

  /**
   * Makes the Rollout's rules for {@code managedRoute} exactly {@code desired} (in order): rules
   * already equal are left alone (idempotent, #151), changed ones are replaced in place, missing
   * ones appended, extra ones removed. Updates the Rollout's ledger entry.
   *
   * @param desired the rules wanted, with their {@code name} set when the schema has rule names
   * @param insertAt where new rules go: an index in spec.rules (before that rule), or -1 to append
   */
  static void reconcile(
      JsonPatchBuilder b,
      Ledger ledger,
      RouteContext ctx,
      String managedRoute,
      RuleType type,
      List<ObjectNode> desired,
      int insertAt) {
    ArrayNode rules = RouteJson.rules(b.current());
    ManagedIndex index = RuleSelection.resolve(rules, ledger);
    Entry entry = ledger.entry(ctx.rolloutKey(), ctx.rolloutUid());
    List<Integer> existing = new ArrayList<>();
    for (int n = 0; n < entry.rules().size(); n++) {
      ManagedRule r = entry.rules().get(n);
      if (r.managedRoute().equals(managedRoute) && r.type() == type) {
        existing.add(index.position(ctx.rolloutKey(), n));
      }
    }
    checkNameConflicts(rules, ctx, managedRoute, desired, existing);

    List<Integer> toAppend = new ArrayList<>();
    for (int k = 0; k < desired.size(); k++) {
      int at = k < existing.size() ? existing.get(k) : -1;
      if (at < 0) {
        toAppend.add(k);
      } else if (!RuleFingerprint.sameContent(rules.get(at), desired.get(k))) {
        b.testCurrent(RouteJson.rule(at));
        b.replace(RouteJson.rule(at), desired.get(k));
      }
    }
    List<Integer> toRemove = new ArrayList<>();
    for (int k = desired.size(); k < existing.size(); k++) {
      if (existing.get(k) >= 0) {
        toRemove.add(existing.get(k));
      }
    }
    removeRules(b, toRemove);
    if (!toAppend.isEmpty() && !b.at("/spec/rules").isArray()) {
      b.add("/spec/rules", JsonNodeFactory.instance.arrayNode());
    }
    // An insertion index computed before this reconcile is only valid if nothing moved.
    boolean insert = insertAt >= 0 && toRemove.isEmpty() && insertAt <= b.at("/spec/rules").size();
    int next = insertAt;
    for (int k : toAppend) {
      if (insert) {
        b.add("/spec/rules/" + next++, desired.get(k));
      } else {
        b.add("/spec/rules/-", desired.get(k));
      }
    }

    List<ManagedRule> recorded = new ArrayList<>();
    for (ObjectNode rule : desired) {
      recorded.add(
          new ManagedRule(managedRoute, type, RouteJson.ruleName(rule), RuleFingerprint.of(rule)));
    }
    ledger.put(ctx.rolloutKey(), entry.replacingRules(managedRoute, type, recorded));
  }

  /**
   * Removes every rule and experiment backend the Rollout added to the route, and their ledger
   * records. Nothing else changes. The Rollout keeps its reference on the in-progress label while
   * its last SetWeight sent traffic to canary: Argo calls RemoveManagedRoutes and then SetWeight
   * with a weight above 0 on every reconcile of a full promotion, and dropping the label here would
   * remove and re-add it each time. The SetWeight(0) that ends every canary releases it.
   */
  static void removeAll(JsonPatchBuilder b, Ledger ledger, RouteContext ctx) {
    ArrayNode rules = RouteJson.rules(b.current());
    ManagedIndex index = RuleSelection.resolve(rules, ledger);
    Entry entry = ledger.entry(ctx.rolloutKey(), ctx.rolloutUid());
    List<Integer> ours = new ArrayList<>();
    for (int n = 0; n < entry.rules().size(); n++) {
      int at = index.position(ctx.rolloutKey(), n);
      if (at >= 0) {
        ours.add(at);
      }
    }
    String ns = ctx.id().namespace();
    for (int i = 0; i < rules.size(); i++) {
      if (index.all().contains(i)) {
        continue;
      }
      ArrayNode refs = RouteJson.backendRefs(b.at(RouteJson.rule(i)));
      long freed = 0;
      for (int j = refs.size() - 1; j >= 0; j--) {
        JsonNode ref = refs.get(j);
        if (entry.experiments().stream().anyMatch(x -> x.isReferencedBy(ref, ns))) {
          freed += ref.path("weight").asLong(1);
          b.testCurrent(RouteJson.backendRef(i, j));
          b.remove(RouteJson.backendRef(i, j));
        }
      }
      if (freed > 0) {
        returnToStable(b, i, freed, ctx);
      }
    }
    removeRules(b, ours);
    ledger.put(
        ctx.rolloutKey(),
        entry
            .withRules(List.of())
            .withExperiments(List.of())
            .withWeights(entry.weights() == null ? null : entry.weights().withoutExperiments()));
  }

  /**
   * Gives the weight of removed experiment backends back to the rule's stable backend, so that the
   * rule is what the next SetWeight without experiments would make it (and a drift restoration in
   * between finds nothing to do).
   */
  private static void returnToStable(JsonPatchBuilder b, int rule, long freed, RouteContext ctx) {
    ArrayNode refs = RouteJson.backendRefs(b.at(RouteJson.rule(rule)));
    for (int j = 0; j < refs.size(); j++) {
      JsonNode ref = refs.get(j);
      if (ctx.stable().isReferencedBy(ref, ctx.id().namespace())) {
        String ptr = RouteJson.backendRef(rule, j);
        b.test(ptr + "/name", ref.get("name"));
        b.set(ptr + "/weight", LongNode.valueOf(ref.path("weight").asLong(1) + freed));
        return;
      }
    }
  }

  private static void removeRules(JsonPatchBuilder b, List<Integer> indices) {
    List<Integer> sorted = new ArrayList<>(indices);
    sorted.sort(Comparator.reverseOrder());
    for (int at : sorted) {
      b.testCurrent(RouteJson.rule(at));
      b.remove(RouteJson.rule(at));
    }
  }

  private static void checkNameConflicts(
      ArrayNode rules,
      RouteContext ctx,
      String managedRoute,
      List<ObjectNode> desired,
      List<Integer> existing) {
    Set<Integer> ours = new HashSet<>(existing);
    for (ObjectNode rule : desired) {
      String name = RouteJson.ruleName(rule);
      if (name == null) {
        continue;
      }
      for (int i = 0; i < rules.size(); i++) {
        if (name.equals(RouteJson.ruleName(rules.get(i))) && !ours.contains(i)) {
          throw new InvalidConfigException(
              ctx.id()
                  + " already has a rule named \""
                  + name
                  + "\" that Weighbridge did not add for managed route \""
                  + managedRoute
                  + "\" of Rollout "
                  + ctx.rolloutKey()
                  + ": rule names must be unique in a route; rename that rule or the managed"
                  + " route");
        }
      }
    }
  }
}
