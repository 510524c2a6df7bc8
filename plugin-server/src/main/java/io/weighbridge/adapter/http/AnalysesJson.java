package io.weighbridge.adapter.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.domain.analysis.AnalysisCoordinator.AnalysisView;
import io.weighbridge.domain.analysis.AnalysisCoordinator.Snapshot;
import io.weighbridge.domain.analysis.Verdict;
import java.util.Locale;

/**
 * Renders the analyzer's state as the JSON of {@code GET /api/v1/analyses}, the contract the CLI's
 * {@code status} reads: {@code {"enabled", "leader", "identity", "analyses": [{"namespace",
 * "rollout", "phase", "canaryWeight", "since", "verdict": {"outcome", "reason", "checks": [{"name",
 * "outcome", "canary": {...}, "stable": {...}, "detail"}]}}]}}. Numbers that are unknown (NaN) are
 * written as null. {@code enabled} is false when plugin-server runs without Prometheus (no analyzer
 * at all).
 */
public final class AnalysesJson {

  /** The path it is served on. */
  public static final String PATH = "/api/v1/analyses";

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private AnalysesJson() {}

  /** The JSON text for {@code snapshot}. */
  public static String render(Snapshot snapshot) {
    return render(snapshot, true);
  }

  /** The JSON text of a plugin-server without an analyzer (no Prometheus configured). */
  public static String disabled(String identity) {
    return render(new Snapshot(false, identity, java.util.List.of()), false);
  }

  private static String render(Snapshot snapshot, boolean enabled) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("enabled", enabled);
    root.put("leader", snapshot.leader());
    root.put("identity", snapshot.identity());
    ArrayNode list = root.putArray("analyses");
    for (AnalysisView a : snapshot.analyses()) {
      ObjectNode n = list.addObject();
      n.put("namespace", a.namespace());
      n.put("rollout", a.rollout());
      n.put("phase", a.phase().name());
      n.put("canaryWeight", a.canaryWeight());
      n.put("since", a.since().toString());
      if (a.verdict().isPresent()) {
        verdict(n.putObject("verdict"), a.verdict().get());
      } else {
        n.putNull("verdict");
      }
    }
    return root.toString();
  }

  private static void verdict(ObjectNode n, Verdict v) {
    n.put("outcome", v.outcome().name());
    n.put("reason", reason(v));
    n.put("at", v.at().toString());
    v.action().ifPresent(a -> n.put("action", a.name().toLowerCase(Locale.ROOT)));
    ArrayNode checks = n.putArray("checks");
    for (Verdict.CheckResult c : v.checks()) {
      ObjectNode cn = checks.addObject();
      cn.put("name", c.name());
      cn.put("outcome", c.outcome().name());
      side(cn.putObject("canary"), c.canary(), c.canarySamples());
      side(cn.putObject("stable"), c.stable(), c.stableSamples());
      if (c.pValue().isPresent()) {
        cn.put("pValue", c.pValue().getAsDouble());
      }
      cn.put("detail", c.reason());
    }
  }

  /** The deciding checks' reasons: the failed ones, else the inconclusive ones, else "healthy". */
  private static String reason(Verdict v) {
    var deciding =
        v.checks(Verdict.Outcome.FAILED).isEmpty()
            ? v.checks(Verdict.Outcome.INCONCLUSIVE)
            : v.checks(Verdict.Outcome.FAILED);
    if (deciding.isEmpty()) {
      return "no evidence against the canary";
    }
    return String.join("; ", deciding.stream().map(c -> c.name() + ": " + c.reason()).toList());
  }

  private static void side(ObjectNode n, double value, long samples) {
    if (Double.isFinite(value)) {
      n.put("value", value);
    } else {
      n.putNull("value");
    }
    if (samples >= 0) {
      n.put("samples", samples);
    }
  }
}
