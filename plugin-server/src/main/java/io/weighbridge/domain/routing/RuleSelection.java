package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.routing.Ledger.Entry;
import io.weighbridge.domain.routing.Ledger.ManagedRule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Finds the rules a call works on: the Rollout's split rules and the rules Weighbridge added. */
final class RuleSelection {
  private RuleSelection() {}

  /**
   * Where the recorded managed rules are in the route now.
   *
   * @param positions per Rollout key, the index of each of its entry's rules (parallel to {@link
   *     Entry#rules()}), -1 when the rule is gone (deleted, or edited on a CRD without rule names)
   * @param all every index that holds a managed rule of any Rollout
   */
  record ManagedIndex(Map<String, List<Integer>> positions, Set<Integer> all) {

    /** The index of the Rollout's {@code n}-th recorded rule, or -1. */
    int position(String rolloutKey, int n) {
      List<Integer> p = positions.get(rolloutKey);
      return p == null || n >= p.size() ? -1 : p.get(n);
    }
  }

  /**
   * Locates every recorded managed rule: by rule name where one was recorded, otherwise by content
   * fingerprint. Each route rule is claimed at most once.
   */
  static ManagedIndex resolve(ArrayNode rules, Ledger ledger) {
    Map<Integer, String> fingerprints = new HashMap<>();
    Set<Integer> claimed = new HashSet<>();
    Map<String, List<Integer>> positions = new LinkedHashMap<>();
    for (Map.Entry<String, Entry> e : ledger.entries().entrySet()) {
      List<Integer> found = new ArrayList<>();
      for (ManagedRule r : e.getValue().rules()) {
        int index = -1;
        for (int i = 0; i < rules.size() && index < 0; i++) {
          if (claimed.contains(i)) {
            continue;
          }
          boolean match =
              r.ruleName() != null
                  ? r.ruleName().equals(RouteJson.ruleName(rules.get(i)))
                  : r.fingerprint()
                      .equals(
                          fingerprints.computeIfAbsent(i, k -> RuleFingerprint.of(rules.get(k))));
          if (match) {
            index = i;
          }
        }
        if (index >= 0) {
          claimed.add(index);
        }
        found.add(index);
      }
      positions.put(e.getKey(), List.copyOf(found));
    }
    return new ManagedIndex(positions, Set.copyOf(claimed));
  }

  /**
   * A rule whose traffic the Rollout splits.
   *
   * @param rule index in spec.rules
   * @param canaryRef index of the canary backendRef in the rule
   * @param stableRef index of the stable backendRef in the rule
   */
  record Target(int rule, int canaryRef, int stableRef) {}

  /**
   * The rules the Rollout's weights apply to: with {@code ruleNames}, exactly those rules (each
   * must route to both Services); otherwise every rule, other than managed ones, that routes to
   * both the canary and the stable Service. Rules that route to only one of them (a user's
   * canary-only rule, #217) are not touched.
   *
   * @throws InvalidConfigException when there is no such rule, a named rule is missing or lacks a
   *     backend, or a rule refers to the same Service twice
   */
  static List<Target> targets(JsonNode route, RouteContext ctx, Set<Integer> managed) {
    ArrayNode rules = RouteJson.rules(route);
    String ns = ctx.id().namespace();
    List<Target> targets = new ArrayList<>();
    Set<String> wanted = new HashSet<>(ctx.ruleNames());
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < rules.size(); i++) {
      JsonNode rule = rules.get(i);
      String name = RouteJson.ruleName(rule);
      boolean named = name != null && wanted.contains(name);
      if (managed.contains(i) || (!wanted.isEmpty() && !named)) {
        continue;
      }
      if (named) {
        seen.add(name);
      }
      ArrayNode refs = RouteJson.backendRefs(rule);
      List<Integer> canary = new ArrayList<>();
      List<Integer> stable = new ArrayList<>();
      for (int j = 0; j < refs.size(); j++) {
        if (ctx.canary().isReferencedBy(refs.get(j), ns)) {
          canary.add(j);
        } else if (ctx.stable().isReferencedBy(refs.get(j), ns)) {
          stable.add(j);
        }
      }
      if (canary.isEmpty() || stable.isEmpty()) {
        if (named) {
          throw new InvalidConfigException(
              ctx.id()
                  + " "
                  + RouteJson.describeRule(rule, i)
                  + ", named in "
                  + ctx.source()
                  + ".ruleNames, does not route to both the canary Service "
                  + ctx.canary()
                  + " and the stable Service "
                  + ctx.stable()
                  + ": add both as backendRefs of that rule, or name another rule");
        }
        continue;
      }
      if (canary.size() > 1 || stable.size() > 1) {
        ServiceRef twice = canary.size() > 1 ? ctx.canary() : ctx.stable();
        throw new InvalidConfigException(
            ctx.id()
                + " "
                + RouteJson.describeRule(rule, i)
                + " has several backendRefs to Service "
                + twice
                + " (different ports): Weighbridge cannot tell which one carries the weight;"
                + " keep one backendRef per Service in that rule");
      }
      targets.add(new Target(i, canary.getFirst(), stable.getFirst()));
    }
    if (!wanted.isEmpty()) {
      List<String> missing = ctx.ruleNames().stream().filter(n -> !seen.contains(n)).toList();
      if (!missing.isEmpty()) {
        throw new InvalidConfigException(
            ctx.id()
                + " has no rule named "
                + String.join(", ", missing)
                + " (from "
                + ctx.source()
                + ".ruleNames; its rule names are "
                + ruleNames(rules)
                + "): set spec.rules[].name on the rule, or fix ruleNames");
      }
    }
    if (targets.isEmpty()) {
      throw new InvalidConfigException(
          ctx.id()
              + " has no rule whose backendRefs include both the canary Service "
              + ctx.canary()
              + " and the stable Service "
              + ctx.stable()
              + nearMisses(rules, ctx)
              + ": add both Services as backendRefs of the rule whose traffic the Rollout"
              + " shifts, or fix spec.strategy.canary.canaryService/stableService");
    }
    return targets;
  }

  private static String ruleNames(ArrayNode rules) {
    List<String> names = new ArrayList<>();
    for (JsonNode rule : rules) {
      String n = RouteJson.ruleName(rule);
      if (n != null) {
        names.add(n);
      }
    }
    return names.isEmpty() ? "none" : String.join(", ", names);
  }

  /** Explains backendRefs that have the right name but another namespace, kind or group. */
  private static String nearMisses(ArrayNode rules, RouteContext ctx) {
    List<String> notes = new ArrayList<>();
    for (int i = 0; i < rules.size(); i++) {
      ArrayNode refs = RouteJson.backendRefs(rules.get(i));
      for (int j = 0; j < refs.size(); j++) {
        JsonNode ref = refs.get(j);
        String name = ref.path("name").asText();
        boolean sameName = name.equals(ctx.canary().name()) || name.equals(ctx.stable().name());
        if (sameName
            && !ctx.canary().isReferencedBy(ref, ctx.id().namespace())
            && !ctx.stable().isReferencedBy(ref, ctx.id().namespace())) {
          notes.add(
              "rule "
                  + i
                  + " backendRef "
                  + j
                  + " names "
                  + name
                  + " but as group \""
                  + ref.path("group").asText("")
                  + "\" kind "
                  + ref.path("kind").asText("Service")
                  + " in namespace "
                  + ref.path("namespace").asText(ctx.id().namespace()));
        }
      }
    }
    return notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")";
  }
}
