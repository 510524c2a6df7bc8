package io.weighbridge.domain.analysis;

import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Plane;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Route;
import io.weighbridge.domain.analysis.RolloutAnalysisTarget.Side;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The PromQL behind the built-in checks, per mesh or proxy and per side. Each source yields three
 * queries over the analysis window: all requests, failed requests (both counts, so that the
 * statistics can weigh sample sizes) and the latency histogram's cumulative buckets by {@code le}
 * (the latency check tests bucket counts, see {@link LatencyStatistics}).
 *
 * <p>Traefik ({@code traefik_service_*}): the {@code service} label of a Gateway API backend is
 * {@code <ns>-<svc>-http-<port>@kubernetesgateway} (HTTPRoute) or {@code
 * <ns>-<svc>-<port>-grpc@kubernetesgateway} (GRPCRoute) up to v3.7.5 (as exported by a real Traefik
 * v3.6.12 in {@code make e2e}) and {@code ...-svc-<ns>-<svc>-<idx>@kubernetesgateway} (per route,
 * rule and backend) since v3.7.6; one regex matches all three. Traefik's label has no route, so
 * north/south checks cover the Service over all its Gateway routes. A failure is {@code
 * code=~"5.."} for {@code protocol!="grpc"} and a gRPC failure code (see {@link
 * AnalysisConfig#DEFAULT_GRPC_FAILURE_CODES}) for {@code protocol="grpc"}, where {@code code} holds
 * the gRPC status.
 *
 * <p>Linkerd ({@code outbound_{http,grpc}_route_backend_*}, measured by the callers' proxies):
 * selected by {@code backend_name}, {@code backend_namespace} and the Rollout's east/west route
 * names. A failure is {@code http_status=~"5.."}, a gRPC failure code in {@code grpc_status}
 * (Linkerd writes the code's name, e.g. {@code UNAVAILABLE}) or a non-empty {@code error}.
 *
 * <p>Limitation: with the old Traefik scheme {@code <ns>-<svc>} is ambiguous when names contain
 * dashes (namespace {@code a}, Service {@code b-c} vs namespace {@code a-b}, Service {@code c}).
 */
public final class BuiltInQueries {

  /** The queries of one source for one side. */
  public record SideQueries(String source, String total, String errors, String latencyBuckets) {}

  private static final Map<Integer, String> GRPC_NAMES =
      Map.ofEntries(
          Map.entry(1, "CANCELLED"),
          Map.entry(2, "UNKNOWN"),
          Map.entry(3, "INVALID_ARGUMENT"),
          Map.entry(4, "DEADLINE_EXCEEDED"),
          Map.entry(5, "NOT_FOUND"),
          Map.entry(6, "ALREADY_EXISTS"),
          Map.entry(7, "PERMISSION_DENIED"),
          Map.entry(8, "RESOURCE_EXHAUSTED"),
          Map.entry(9, "FAILED_PRECONDITION"),
          Map.entry(10, "ABORTED"),
          Map.entry(11, "OUT_OF_RANGE"),
          Map.entry(12, "UNIMPLEMENTED"),
          Map.entry(13, "INTERNAL"),
          Map.entry(14, "UNAVAILABLE"),
          Map.entry(15, "DATA_LOSS"),
          Map.entry(16, "UNAUTHENTICATED"));

  private BuiltInQueries() {}

  /** The sources that describe the target's routes: Traefik, Linkerd or both. */
  public static List<String> sources(RolloutAnalysisTarget target) {
    Set<String> out = new LinkedHashSet<>();
    for (Route r : target.routes()) {
      out.add(r.plane() == Plane.NORTH_SOUTH ? "traefik" : "linkerd");
    }
    return List.copyOf(out);
  }

  /** The queries of {@code source} ("traefik" or "linkerd") for one side. */
  public static SideQueries forSide(
      String source, RolloutAnalysisTarget target, Side side, String window) {
    AnalysisConfig config = target.config();
    Set<Integer> codes = config.grpcFailureCodes();
    String svc = target.service(side);
    String ns = target.namespace();
    return switch (source) {
      case "traefik" -> traefik(ns, svc, codes, window);
      case "linkerd" -> linkerd(ns, svc, target.routes(), codes, window);
      default -> throw new IllegalArgumentException("unknown source " + source);
    };
  }

  /** The {@code service} regex that matches both Traefik naming schemes for one Service. */
  public static String traefikServiceRegex(String namespace, String service) {
    String ns = regexQuote(namespace);
    String svc = regexQuote(service);
    return "("
        + ns
        + "-"
        + svc
        + "-http-[0-9]+|"
        + ns
        + "-"
        + svc
        + "-[0-9]+-grpc|.+-svc-"
        + ns
        + "-"
        + svc
        + "-[0-9]+)"
        + "@kubernetesgateway";
  }

  private static SideQueries traefik(String ns, String svc, Set<Integer> codes, String window) {
    String sel = "service=~\"" + traefikServiceRegex(ns, svc) + "\"";
    String m = "traefik_service_requests_total";
    String grpcCodes =
        codes.stream().sorted().map(String::valueOf).collect(Collectors.joining("|"));
    String total = "sum(increase(" + m + "{" + sel + "}[" + window + "]))";
    String errors =
        "sum(increase("
            + m
            + "{"
            + sel
            + ",protocol!=\"grpc\",code=~\"5..\"}["
            + window
            + "]) or increase("
            + m
            + "{"
            + sel
            + ",protocol=\"grpc\",code=~\""
            + grpcCodes
            + "\"}["
            + window
            + "])) or vector(0)";
    String latency =
        "sum by (le) (increase(traefik_service_request_duration_seconds_bucket{"
            + sel
            + "}["
            + window
            + "]))";
    return new SideQueries("traefik", total, errors, latency);
  }

  private static SideQueries linkerd(
      String ns, String svc, List<Route> routes, Set<Integer> codes, String window) {
    List<Route> ew = routes.stream().filter(r -> r.plane() == Plane.EAST_WEST).toList();
    String routeNames =
        ew.stream().map(r -> regexQuote(r.name())).distinct().collect(Collectors.joining("|"));
    String routeNamespaces =
        ew.stream().map(r -> regexQuote(r.namespace())).distinct().collect(Collectors.joining("|"));
    String sel =
        "backend_name=\""
            + svc
            + "\",backend_namespace=\""
            + ns
            + "\",route_name=~\""
            + routeNames
            + "\",route_namespace=~\""
            + routeNamespaces
            + "\"";
    String statuses = "outbound_(http|grpc)_route_backend_response_statuses_total";
    String grpcStatus =
        codes.stream()
            .sorted()
            .flatMap(c -> java.util.stream.Stream.of(GRPC_NAMES.get(c), String.valueOf(c)))
            .collect(Collectors.joining("|"));
    String total = "sum(increase({__name__=~\"" + statuses + "\"," + sel + "}[" + window + "]))";
    String errors =
        "sum(increase(outbound_http_route_backend_response_statuses_total{"
            + sel
            + ",http_status=~\"5..\"}["
            + window
            + "]) or increase(outbound_grpc_route_backend_response_statuses_total{"
            + sel
            + ",grpc_status=~\""
            + grpcStatus
            + "\"}["
            + window
            + "]) or increase({__name__=~\""
            + statuses
            + "\","
            + sel
            + ",error!=\"\"}["
            + window
            + "])) or vector(0)";
    String latency =
        "sum by (le) (increase({__name__=~\"outbound_(http|grpc)_route_backend_response"
            + "_duration_seconds_bucket\","
            + sel
            + "}["
            + window
            + "]))";
    return new SideQueries("linkerd", total, errors, latency);
  }

  /** Escapes RE2 metacharacters (names are DNS labels, but a dot in a namespace must not match). */
  static String regexQuote(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if ("\\.+*?()|[]{}^$".indexOf(c) >= 0) {
        b.append("\\\\");
      }
      b.append(c);
    }
    return b.toString();
  }
}
