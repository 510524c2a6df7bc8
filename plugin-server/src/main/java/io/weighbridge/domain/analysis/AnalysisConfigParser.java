package io.weighbridge.domain.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisConfig.CustomCheck;
import io.weighbridge.domain.analysis.AnalysisConfig.LatencyCheck;
import io.weighbridge.domain.analysis.AnalysisConfig.OnInconclusive;
import io.weighbridge.domain.analysis.AnalysisConfig.Policy;
import io.weighbridge.domain.analysis.AnalysisConfig.Sensitivity;
import io.weighbridge.domain.analysis.AnalysisConfig.SuccessRateCheck;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads the {@code analysis} key of a Rollout's plugin configuration (next to the routing keys).
 * Every key is optional; unknown keys and wrong values are rejected with the JSON path and the fix.
 *
 * <pre>{@code
 * "analysis": {
 *   "enabled": true,
 *   "action": "abort" | "pause",                  // default for every check (abort)
 *   "onInconclusive": "nothing" | "pause" | "abort",  // default nothing
 *   "sensitivity": "low" | "medium" | "high" | 0.001, // false-positive rate per check (medium)
 *   "minSampleSize": 10,                           // canary requests before a check may fail
 *   "grpcFailureCodes": [2, 4, 12, 13, 14, 15],
 *   "successRate": {"enabled", "action", "onInconclusive", "sensitivity", "minSampleSize",
 *                   "maxErrorRate": 0.01},
 *   "latency": {"enabled", "action", "onInconclusive", "sensitivity", "minSampleSize",
 *               "quantile": 0.95,   // stable's quantile picks the histogram bound slow = above
 *               "margin": 0.5,      // fail only when the canary's share of slow requests is
 *                                   // credibly > (1 + margin) x stable's (sequential test)
 *               "maxSeconds": 1.0}, // optional absolute limit on the canary's quantile
 *   "checks": [{"name", "errorQuery", "totalQuery", "maxErrorRate", ...policy}
 *              | {"name", "query", "max", "tolerance", ...policy}]
 * }
 * }</pre>
 */
public final class AnalysisConfigParser {

  /** The top-level key of the plugin configuration that holds this block. */
  public static final String KEY = "analysis";

  private static final List<String> POLICY_KEYS =
      List.of("action", "onInconclusive", "sensitivity", "minSampleSize");
  private static final List<String> TOP_KEYS =
      concat(POLICY_KEYS, "enabled", "grpcFailureCodes", "successRate", "latency", "checks");
  private static final List<String> SUCCESS_KEYS = concat(POLICY_KEYS, "enabled", "maxErrorRate");
  private static final List<String> LATENCY_KEYS =
      concat(POLICY_KEYS, "enabled", "quantile", "margin", "maxSeconds");
  private static final List<String> CHECK_KEYS =
      concat(
          POLICY_KEYS,
          "name",
          "query",
          "errorQuery",
          "totalQuery",
          "max",
          "maxErrorRate",
          "tolerance");

  private AnalysisConfigParser() {}

  /**
   * Parses {@code pluginConfig.analysis}; defaults when it is absent.
   *
   * @param pluginConfig the whole plugin configuration object
   * @param pluginPath its path for messages, e.g. {@code plugins["weighbridge/gateway-api"]}
   * @throws InvalidConfigException naming the first wrong field and the fix
   */
  public static AnalysisConfig parse(JsonNode pluginConfig, String pluginPath) {
    JsonNode node = pluginConfig == null ? null : pluginConfig.get(KEY);
    String path = pluginPath + "." + KEY;
    if (node == null || node.isNull()) {
      return AnalysisConfig.DEFAULTS;
    }
    if (node.isBoolean()) {
      return node.booleanValue() ? AnalysisConfig.DEFAULTS : disabled();
    }
    requireObject(node, path, "e.g. {\"action\": \"abort\"} or false to turn analysis off");
    rejectUnknown(node, path, TOP_KEYS);
    boolean enabled = bool(node, path, "enabled", true);
    Policy base = policy(node, path, Policy.DEFAULTS);
    Set<Integer> grpcCodes = grpcCodes(node, path);

    SuccessRateCheck successRate = new SuccessRateCheck(true, base, OptionalDouble.empty());
    JsonNode sr = node.get("successRate");
    String srPath = path + ".successRate";
    if (sr != null && !sr.isNull()) {
      requireObject(sr, srPath, "e.g. {\"maxErrorRate\": 0.01}");
      rejectUnknown(sr, srPath, SUCCESS_KEYS);
      successRate =
          new SuccessRateCheck(
              bool(sr, srPath, "enabled", true),
              policy(sr, srPath, base),
              fraction(sr, srPath, "maxErrorRate", false));
    }

    LatencyCheck defaults = AnalysisConfig.DEFAULTS.latency();
    LatencyCheck latency =
        new LatencyCheck(
            true, base, defaults.quantile(), defaults.margin(), OptionalDouble.empty());
    JsonNode lat = node.get("latency");
    String latPath = path + ".latency";
    if (lat != null && !lat.isNull()) {
      requireObject(lat, latPath, "e.g. {\"quantile\": 0.99, \"margin\": 0.3}");
      rejectUnknown(lat, latPath, LATENCY_KEYS);
      double q = fraction(lat, latPath, "quantile", true).orElse(defaults.quantile());
      if (q <= 0 || q >= 1) {
        throw invalid(latPath + ".quantile", "must be between 0 and 1 (exclusive)", "e.g. 0.95");
      }
      latency =
          new LatencyCheck(
              bool(lat, latPath, "enabled", true),
              policy(lat, latPath, base),
              q,
              nonNegative(lat, latPath, "margin").orElse(defaults.margin()),
              positive(lat, latPath, "maxSeconds"));
    }
    return new AnalysisConfig(enabled, successRate, latency, grpcCodes, checks(node, path, base));
  }

  private static AnalysisConfig disabled() {
    AnalysisConfig d = AnalysisConfig.DEFAULTS;
    return new AnalysisConfig(false, d.successRate(), d.latency(), d.grpcFailureCodes(), List.of());
  }

  private static List<CustomCheck> checks(JsonNode node, String path, Policy base) {
    JsonNode list = node.get("checks");
    String listPath = path + ".checks";
    if (list == null || list.isNull()) {
      return List.of();
    }
    if (!list.isArray()) {
      throw invalid(
          listPath, "must be an array", "write [{\"name\": \"...\", \"query\": \"...\"}]");
    }
    List<CustomCheck> checks = new ArrayList<>();
    Set<String> names = new HashSet<>(List.of("success-rate", "latency"));
    for (int i = 0; i < list.size(); i++) {
      JsonNode c = list.get(i);
      String p = listPath + "[" + i + "]";
      requireObject(c, p, "e.g. {\"name\": \"queue-depth\", \"query\": \"...\", \"max\": 100}");
      rejectUnknown(c, p, CHECK_KEYS);
      String name =
          text(c, p, "name")
              .orElseThrow(
                  () ->
                      invalid(
                          p + ".name",
                          "is missing",
                          "give every check a unique name, e.g. \"name\": \"db-errors\""));
      if (!names.add(name)) {
        throw invalid(
            p + ".name",
            "\"" + name + "\" is used twice (success-rate and latency are the built-in checks)",
            "give every check a unique name");
      }
      Optional<String> query = text(c, p, "query");
      Optional<String> errorQuery = text(c, p, "errorQuery");
      Optional<String> totalQuery = text(c, p, "totalQuery");
      Policy policy = policy(c, p, base);
      if (query.isPresent() == (errorQuery.isPresent() || totalQuery.isPresent())) {
        throw invalid(
            p,
            "must have either \"query\" (one number per side) or both \"errorQuery\" and"
                + " \"totalQuery\" (request counts per side)",
            "write one of the two forms");
      }
      if (query.isPresent()) {
        if (c.has("maxErrorRate")) {
          throw invalid(
              p + ".maxErrorRate",
              "applies to errorQuery/totalQuery checks only",
              "use \"max\" to limit a \"query\" check's value");
        }
        OptionalDouble max = number(c, p, "max");
        OptionalDouble tolerance = positive(c, p, "tolerance");
        if (max.isEmpty() && tolerance.isEmpty()) {
          throw invalid(
              p,
              "has a \"query\" but neither \"max\" nor \"tolerance\", so it could never fail",
              "add \"max\": <limit> and/or \"tolerance\": <fraction above stable>, e.g. 0.2");
        }
        checks.add(
            new CustomCheck(
                name,
                CustomCheck.Kind.VALUE,
                query,
                Optional.empty(),
                Optional.empty(),
                policy,
                max,
                tolerance,
                p));
      } else {
        if (errorQuery.isEmpty() || totalQuery.isEmpty()) {
          throw invalid(
              p + (errorQuery.isEmpty() ? ".errorQuery" : ".totalQuery"),
              "is missing",
              "an error-rate check needs both errorQuery (failed requests) and totalQuery (all"
                  + " requests) of the side, e.g. sum(increase(..._total{...}[{{window}}]))");
        }
        if (c.has("max") || c.has("tolerance")) {
          throw invalid(
              p,
              "mixes \"max\"/\"tolerance\" into an error-rate check",
              "use \"maxErrorRate\" (0..1) for an absolute limit");
        }
        checks.add(
            new CustomCheck(
                name,
                CustomCheck.Kind.ERROR_RATE,
                Optional.empty(),
                errorQuery,
                totalQuery,
                policy,
                fraction(c, p, "maxErrorRate", false),
                OptionalDouble.empty(),
                p));
      }
    }
    return List.copyOf(checks);
  }

  private static Policy policy(JsonNode node, String path, Policy base) {
    Action action = base.action();
    JsonNode a = node.get("action");
    if (a != null && !a.isNull()) {
      action =
          switch (a.isTextual() ? a.textValue() : "") {
            case "abort" -> Action.ABORT;
            case "pause" -> Action.PAUSE;
            default ->
                throw invalid(path + ".action", "is " + a, "use \"abort\" (revert) or \"pause\"");
          };
    }
    OnInconclusive onInc = base.onInconclusive();
    JsonNode o = node.get("onInconclusive");
    if (o != null && !o.isNull()) {
      onInc =
          switch (o.isTextual() ? o.textValue() : "") {
            case "nothing" -> OnInconclusive.NOTHING;
            case "pause" -> OnInconclusive.PAUSE;
            case "abort" -> OnInconclusive.ABORT;
            default ->
                throw invalid(
                    path + ".onInconclusive",
                    "is " + o,
                    "use \"nothing\" (default), \"pause\" or \"abort\"");
          };
    }
    double alpha = base.alpha();
    JsonNode s = node.get("sensitivity");
    String sPath = path + ".sensitivity";
    if (s != null && !s.isNull()) {
      if (s.isTextual()) {
        try {
          alpha = Sensitivity.valueOf(s.textValue().toUpperCase(Locale.ROOT)).alpha();
        } catch (IllegalArgumentException e) {
          throw invalid(sPath, "is " + s, "use \"low\", \"medium\", \"high\" or a number");
        }
      } else if (s.isNumber() && s.doubleValue() > 0 && s.doubleValue() <= 0.1) {
        alpha = s.doubleValue();
      } else {
        throw invalid(
            sPath,
            "is " + s,
            "use \"low\", \"medium\" (default), \"high\", or a false-positive rate per analysis"
                + " in (0, 0.1], e.g. 0.001");
      }
    }
    long minSamples = base.minSampleSize();
    JsonNode m = node.get("minSampleSize");
    if (m != null && !m.isNull()) {
      if (!m.canConvertToLong() || !m.isIntegralNumber() || m.longValue() < 1) {
        throw invalid(
            path + ".minSampleSize", "is " + m, "use a whole number of canary requests >= 1");
      }
      minSamples = m.longValue();
    }
    return new Policy(action, alpha, minSamples, onInc);
  }

  private static Set<Integer> grpcCodes(JsonNode node, String path) {
    JsonNode codes = node.get("grpcFailureCodes");
    String p = path + ".grpcFailureCodes";
    if (codes == null || codes.isNull()) {
      return AnalysisConfig.DEFAULT_GRPC_FAILURE_CODES;
    }
    if (!codes.isArray() || codes.isEmpty()) {
      throw invalid(p, "must be a non-empty array of gRPC codes", "e.g. [2, 4, 12, 13, 14, 15]");
    }
    Set<Integer> out = new TreeSet<>();
    for (int i = 0; i < codes.size(); i++) {
      JsonNode c = codes.get(i);
      if (!c.isIntegralNumber() || c.intValue() < 1 || c.intValue() > 16) {
        throw invalid(
            p + "[" + i + "]", "is " + c, "use a gRPC status code from 1 to 16 (0 is OK)");
      }
      out.add(c.intValue());
    }
    return out;
  }

  private static boolean bool(JsonNode node, String path, String key, boolean dflt) {
    JsonNode v = node.get(key);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw invalid(path + "." + key, "is " + v, "use true or false (without quotes)");
    }
    return v.booleanValue();
  }

  private static Optional<String> text(JsonNode node, String path, String key) {
    JsonNode v = node.get(key);
    if (v == null || v.isNull()) {
      return Optional.empty();
    }
    if (!v.isTextual() || v.textValue().isBlank()) {
      throw invalid(path + "." + key, "must be a non-empty string", "write it in quotes");
    }
    return Optional.of(v.textValue());
  }

  private static OptionalDouble number(JsonNode node, String path, String key) {
    JsonNode v = node.get(key);
    if (v == null || v.isNull()) {
      return OptionalDouble.empty();
    }
    if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
      throw invalid(path + "." + key, "is " + v, "use a number without quotes");
    }
    return OptionalDouble.of(v.doubleValue());
  }

  private static OptionalDouble positive(JsonNode node, String path, String key) {
    OptionalDouble v = number(node, path, key);
    if (v.isPresent() && v.getAsDouble() <= 0) {
      throw invalid(path + "." + key, "is " + node.get(key), "use a number greater than 0");
    }
    return v;
  }

  private static OptionalDouble nonNegative(JsonNode node, String path, String key) {
    OptionalDouble v = number(node, path, key);
    if (v.isPresent() && v.getAsDouble() < 0) {
      throw invalid(
          path + "." + key, "is " + node.get(key), "use a number >= 0, e.g. 0.5 for 50% more");
    }
    return v;
  }

  private static OptionalDouble fraction(
      JsonNode node, String path, String key, boolean exclusive) {
    OptionalDouble v = number(node, path, key);
    if (v.isPresent() && (v.getAsDouble() < 0 || v.getAsDouble() > 1)) {
      throw invalid(
          path + "." + key,
          "is " + node.get(key),
          "use a fraction between 0 and 1, e.g. 0.01 for 1%" + (exclusive ? "" : ""));
    }
    return v;
  }

  private static void requireObject(JsonNode node, String path, String example) {
    if (!node.isObject()) {
      throw invalid(path, "must be an object", example);
    }
  }

  private static void rejectUnknown(JsonNode node, String path, List<String> known) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!known.contains(key)) {
        throw invalid(path + "." + key, "is not a known key", "remove it or use one of " + known);
      }
    }
  }

  private static InvalidConfigException invalid(String path, String problem, String fix) {
    return new InvalidConfigException(path + " " + problem + ": " + fix);
  }

  private static List<String> concat(List<String> base, String... more) {
    List<String> out = new ArrayList<>(base);
    out.addAll(List.of(more));
    return List.copyOf(out);
  }
}
