package io.weighbridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.cli.StatusReport.AnalyzerInfo;
import io.weighbridge.cli.StatusReport.ManagedRule;
import io.weighbridge.cli.StatusReport.RolloutStatus;
import io.weighbridge.cli.StatusReport.RouteStatus;
import io.weighbridge.cli.StatusReport.RuleWeights;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Renders a {@link StatusReport} as text for a terminal. Pure. */
final class StatusFormatter {

  private StatusFormatter() {}

  static String text(StatusReport report) {
    StringBuilder out = new StringBuilder();
    if (report.rollouts().isEmpty()) {
      out.append("No Rollout in ")
          .append(report.namespace() == null ? "any namespace" : "namespace " + report.namespace())
          .append(" routes traffic with Weighbridge.\n");
    }
    for (RolloutStatus r : report.rollouts()) {
      rollout(out, r, report.analyzer());
      out.append('\n');
    }
    analyzer(out, report.analyzer());
    return out.toString();
  }

  private static void rollout(StringBuilder out, RolloutStatus r, AnalyzerInfo analyzer) {
    out.append("Rollout ")
        .append(r.namespace())
        .append('/')
        .append(r.name())
        .append("  (plugin ")
        .append(r.plugin())
        .append(")\n");
    List<String> facts = new ArrayList<>();
    facts.add("phase " + (r.phase().isEmpty() ? "unknown" : r.phase()));
    if (r.aborted()) {
      facts.add("ABORTED");
    } else if (r.paused()) {
      facts.add("paused");
    }
    if (r.step() != null) {
      facts.add(
          "step "
              + r.step()
              + "/"
              + r.steps()
              + (r.stepWeight() == null ? "" : " (setWeight " + r.stepWeight() + ")"));
    }
    facts.add(
        "canary weight "
            + (r.weight() == null ? "not set yet" : r.weight() + "/" + r.maxTrafficWeight())
            + (r.verified() == null ? "" : r.verified() ? ", verified" : ", NOT verified"));
    out.append("  ").append(String.join(", ", facts)).append('\n');
    if (!r.message().isEmpty()) {
      out.append("  message: ").append(r.message()).append('\n');
    }

    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("ROUTE", "RULE", "STABLE", "CANARY", "MANAGED BY", "DRIFT"));
    for (RouteStatus route : r.routes()) {
      String id = route.kind() + " " + route.namespace() + "/" + route.name();
      String drift = route.drift() == null ? "unknown" : route.drift() ? "YES" : "no";
      if (!route.exists()) {
        rows.add(List.of(id, "-", "-", "-", "-", "route does not exist"));
        continue;
      }
      if (route.rules().isEmpty()) {
        rows.add(List.of(id, "-", "-", "-", "-", drift));
      }
      for (RuleWeights rule : route.rules()) {
        rows.add(
            List.of(
                id,
                rule.index() + (rule.name() == null ? "" : " \"" + rule.name() + "\""),
                rule.stable() == null ? "-" : rule.stable().toString(),
                rule.canary() == null ? "-" : rule.canary().toString(),
                rule.managedRoute() == null ? "" : rule.managedRoute(),
                drift));
      }
    }
    if (rows.size() > 1) {
      table(out, rows, "  ");
    }
    for (RouteStatus route : r.routes()) {
      String id = route.kind() + " " + route.namespace() + "/" + route.name();
      if (!route.managedRules().isEmpty()) {
        out.append("  ").append(id).append(" managed rules: ");
        List<String> parts = new ArrayList<>();
        for (ManagedRule m : route.managedRules()) {
          parts.add(
              m.type()
                  + " \""
                  + m.managedRoute()
                  + "\""
                  + (m.rule() == null ? "" : " (rule \"" + m.rule() + "\")"));
        }
        out.append(String.join(", ", parts)).append('\n');
      }
      if (route.inProgressLabel() != null) {
        out.append("  ").append(id).append(" label ").append(route.inProgressLabel()).append('\n');
      }
      if (Boolean.TRUE.equals(route.drift())) {
        out.append("  drift on ")
            .append(id)
            .append(": not what weight ")
            .append(r.weight())
            .append(" makes it; plugin-server restores it while the canary runs, or at Argo's next")
            .append(" reconcile:\n");
        route.diff().forEach(line -> out.append("      ").append(line).append('\n'));
      }
    }
    if (r.error() != null) {
      out.append("  error: ").append(r.error()).append('\n');
    }
    analysis(out, r.analysis(), analyzer);
  }

  private static void analysis(StringBuilder out, JsonNode a, AnalyzerInfo analyzer) {
    if (a == null) {
      if (analyzer != null && "ok".equals(analyzer.state())) {
        out.append("  analysis: none (the analyzer is not analysing this Rollout)\n");
      }
      return;
    }
    out.append("  analysis: ").append(a.path("phase").asText("?"));
    if (a.has("canaryWeight")) {
      out.append(" at canary weight ").append(a.path("canaryWeight").asInt());
    }
    if (a.has("since")) {
      out.append(" since ").append(a.path("since").asText());
    }
    out.append('\n');
    JsonNode verdict = a.path("verdict");
    if (!verdict.isMissingNode() && !verdict.isNull()) {
      out.append("    verdict ").append(verdict.path("outcome").asText("?"));
      if (!verdict.path("reason").asText("").isEmpty()) {
        out.append(": ").append(verdict.path("reason").asText());
      }
      out.append('\n');
      List<List<String>> rows = new ArrayList<>();
      rows.add(List.of("CHECK", "OUTCOME", "CANARY", "STABLE", "DETAIL"));
      for (JsonNode c : verdict.path("checks")) {
        rows.add(
            List.of(
                c.path("name").asText(""),
                c.path("outcome").asText(""),
                compact(c.path("canary")),
                compact(c.path("stable")),
                c.path("detail").asText("")));
      }
      if (rows.size() > 1) {
        table(out, rows, "    ");
      }
    }
  }

  private static void analyzer(StringBuilder out, AnalyzerInfo analyzer) {
    if (analyzer == null) {
      return;
    }
    switch (analyzer.state()) {
      case "not-queried" ->
          out.append(
              "Analyzer verdicts: not queried (pass --server-url, e.g."
                  + " http://weighbridge.argo-rollouts.svc:8080, or a port-forward to it).\n");
      case "ok" ->
          out.append("Analyzer verdicts from ")
              .append(analyzer.serverUrl())
              .append(analyzer.identity() == null ? "" : " (replica " + analyzer.identity() + ")")
              .append(
                  Boolean.FALSE.equals(analyzer.leader())
                      ? "; this replica does not lead the analyzer: it judges nothing, so its analyses carry no"
                          + " verdict (ask again, or the leader's pod through a port-forward)"
                      : "")
              .append(".\n");
      case "disabled" ->
          out.append("Analyzer: disabled on ")
              .append(analyzer.serverUrl())
              .append(" (")
              .append(analyzer.detail())
              .append("; set WEIGHBRIDGE_PROMETHEUS_URL to enable it).\n");
      default ->
          out.append("Analyzer verdicts: unavailable: ").append(analyzer.detail()).append('\n');
    }
  }

  /**
   * {@code {"value":0.01,"samples":449}} (the analyzer's check sides) as {@code value=0.01000
   * samples=449}: counts stay whole numbers, an unknown value (null) shows as {@code -}; empty for
   * a missing node.
   */
  static String compact(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return "";
    }
    if (!node.isObject()) {
      return node.asText();
    }
    List<String> parts = new ArrayList<>();
    node.properties()
        .forEach(
            e ->
                parts.add(
                    e.getKey()
                        + "="
                        + (e.getValue().isIntegralNumber()
                            ? e.getValue().asText()
                            : e.getValue().isNumber()
                                ? String.format(Locale.ROOT, "%.4g", e.getValue().asDouble())
                                : e.getValue().isNull() ? "-" : e.getValue().asText())));
    return String.join(" ", parts);
  }

  /** Left-aligned columns separated by two spaces; the last column is not padded. */
  static void table(StringBuilder out, List<List<String>> rows, String indent) {
    int columns = rows.getFirst().size();
    int[] width = new int[columns];
    for (List<String> row : rows) {
      for (int c = 0; c < columns; c++) {
        width[c] = Math.max(width[c], row.get(c).length());
      }
    }
    for (List<String> row : rows) {
      StringBuilder line = new StringBuilder(indent);
      for (int c = 0; c < columns; c++) {
        line.append(row.get(c));
        if (c < columns - 1) {
          line.append(" ".repeat(width[c] - row.get(c).length() + 2));
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
  }
}
