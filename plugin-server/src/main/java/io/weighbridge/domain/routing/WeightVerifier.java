package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.routing.RoutingConfig.VerifyMode;
import io.weighbridge.domain.routing.RoutingMetrics.VerifyReason;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides whether one route carries the desired weights: in its spec, and (in {@link
 * VerifyMode#STATUS}) as accepted by the controller of every parent it attaches to.
 */
final class WeightVerifier {
  private WeightVerifier() {}

  /**
   * The verdict on one route.
   *
   * @param reason why
   * @param message for NotVerified, what exactly is missing and where
   */
  record Outcome(VerifyReason reason, String message) {

    /** True when the route is verified. */
    boolean verified() {
      return reason == VerifyReason.VERIFIED;
    }

    static Outcome ok() {
      return new Outcome(VerifyReason.VERIFIED, "");
    }
  }

  /**
   * Checks one route.
   *
   * @throws io.weighbridge.domain.InvalidConfigException when the route cannot carry the weights at
   *     all (e.g. no rule routes to both Services): a configuration error, not a wait
   */
  static Outcome verify(JsonNode route, RouteContext ctx, Desired desired, VerifyMode mode) {
    JsonPatchBuilder dryRun = new JsonPatchBuilder(route);
    Ledger ledger = Ledger.read(route, ctx.id());
    List<String> changes =
        WeightPlanner.plan(dryRun, ledger, ctx, desired, (service, stableRef) -> 0);
    if (!changes.isEmpty()) {
      return new Outcome(
          VerifyReason.SPEC_MISMATCH,
          ctx.id()
              + " does not carry the desired weights yet: "
              + String.join("; ", changes.subList(0, Math.min(3, changes.size())))
              + (changes.size() > 3 ? "; and " + (changes.size() - 3) + " more" : ""));
    }
    if (mode != VerifyMode.STATUS) {
      return Outcome.ok();
    }
    return parentsAccepted(route, ctx);
  }

  private static Outcome parentsAccepted(JsonNode route, RouteContext ctx) {
    String ns = ctx.id().namespace();
    long generation = RouteJson.generation(route);
    JsonNode parentRefs = route.path("spec").path("parentRefs");
    if (!parentRefs.isArray() || parentRefs.isEmpty()) {
      return new Outcome(
          VerifyReason.PARENT_STATUS_MISSING,
          ctx.id()
              + " has no spec.parentRefs, so no Gateway or mesh serves it: attach it to a parent,"
              + " or set verifyWeight: \"spec\" for it");
    }
    for (JsonNode parent : parentRefs) {
      String describe = describeParent(parent, ns);
      List<JsonNode> statuses = new ArrayList<>();
      for (JsonNode s : route.path("status").path("parents")) {
        if (sameParent(s.path("parentRef"), parent, ns)) {
          statuses.add(s);
        }
      }
      if (statuses.isEmpty()) {
        return new Outcome(
            VerifyReason.PARENT_STATUS_MISSING,
            "no controller has reported status for parent "
                + describe
                + " of "
                + ctx.id()
                + " yet; if no controller ever writes route status for this parent (check"
                + " status.parents), set verifyWeight: \"spec\" for this route");
      }
      for (JsonNode s : statuses) {
        String controller = s.path("controllerName").asText("(unnamed controller)");
        JsonNode accepted = null;
        for (JsonNode c : s.path("conditions")) {
          if ("Accepted".equals(c.path("type").asText())) {
            accepted = c;
          }
        }
        if (accepted == null) {
          return new Outcome(
              VerifyReason.PARENT_STATUS_MISSING,
              controller
                  + " reports no Accepted condition for parent "
                  + describe
                  + " of "
                  + ctx.id()
                  + " yet");
        }
        JsonNode observed = accepted.get("observedGeneration");
        if (observed == null || !observed.canConvertToLong() || observed.asLong() < generation) {
          return new Outcome(
              VerifyReason.STALE_GENERATION,
              controller
                  + " has not yet processed generation "
                  + generation
                  + " of "
                  + ctx.id()
                  + " for parent "
                  + describe
                  + " (its Accepted condition is for generation "
                  + (observed == null ? "(not reported)" : observed.asText())
                  + ")");
        }
        if (!"True".equals(accepted.path("status").asText())) {
          return new Outcome(
              VerifyReason.NOT_ACCEPTED,
              controller
                  + " does not accept "
                  + ctx.id()
                  + " on parent "
                  + describe
                  + ": Accepted="
                  + accepted.path("status").asText()
                  + " reason "
                  + accepted.path("reason").asText("")
                  + ": "
                  + accepted.path("message").asText(""));
        }
      }
    }
    return Outcome.ok();
  }

  /** ParentReference equality with the Gateway API defaults filled in. */
  static boolean sameParent(JsonNode a, JsonNode b, String routeNamespace) {
    return group(a).equals(group(b))
        && a.path("kind").asText("Gateway").equals(b.path("kind").asText("Gateway"))
        && a.path("namespace")
            .asText(routeNamespace)
            .equals(b.path("namespace").asText(routeNamespace))
        && a.path("name").asText().equals(b.path("name").asText())
        && a.path("sectionName").asText("").equals(b.path("sectionName").asText(""))
        && a.path("port").asText("").equals(b.path("port").asText(""));
  }

  private static String group(JsonNode ref) {
    String g = ref.path("group").asText(RouteKind.GROUP);
    return g.equals("core") ? "" : g;
  }

  private static String describeParent(JsonNode ref, String routeNamespace) {
    StringBuilder sb =
        new StringBuilder()
            .append(ref.path("kind").asText("Gateway"))
            .append(' ')
            .append(ref.path("namespace").asText(routeNamespace))
            .append('/')
            .append(ref.path("name").asText());
    if (ref.hasNonNull("sectionName")) {
      sb.append(" section ").append(ref.path("sectionName").asText());
    }
    if (ref.hasNonNull("port")) {
      sb.append(" port ").append(ref.path("port").asText());
    }
    return sb.toString();
  }
}
