package io.weighbridge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.cli.PlanningRouteClient.RecordedPatch;
import io.weighbridge.domain.HeaderRoute;
import io.weighbridge.domain.MirrorRoute;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code plan}: what SetWeight N would change on a Rollout's routes, without writing. */
@Command(
    name = "plan",
    sortOptions = false,
    description = {
      "Dry run: shows what Argo's SetWeight N (after SetHeaderRoute for each --header-route and"
          + " SetMirrorRoute for each --mirror-route) would change on the Rollout's routes, as a diff of the routes' rules and backendRef"
          + " weights and as the JSON patches plugin-server would send. Runs the real routing"
          + " engine on the live routes; writes nothing.",
      "",
      "Example: plan web --weight 30 -n shop"
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:planned (also when nothing would change)",
      "1:the engine would refuse (the message is what Argo would show) or the cluster could not be"
          + " read",
      "2:bad usage"
    })
final class PlanCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "ROLLOUT", description = "the Rollout's name")
  String rollout;

  @Option(
      names = "--weight",
      required = true,
      paramLabel = "N",
      description = "the canary weight Argo would send, in units of maxTrafficWeight (0..max)")
  int weight;

  @Option(
      names = {"-n", "--namespace"},
      paramLabel = "NS",
      description = "the Rollout's namespace (default: the kubeconfig context's, else default)")
  String namespace;

  @Option(
      names = "--header-route",
      paramLabel = "NAME",
      description =
          "also plan the Rollout's setHeaderRoute step NAME first, as Argo does at that step"
              + " (repeatable)")
  List<String> headerRoutes = new ArrayList<>();

  @Option(
      names = "--mirror-route",
      paramLabel = "NAME",
      description =
          "also plan the Rollout's setMirrorRoute step NAME first, as Argo does at that step"
              + " (repeatable)")
  List<String> mirrorRoutes = new ArrayList<>();

  @Mixin ReportOptions options;

  @Mixin KubeOptions kube;

  @Mixin HelpOption help;

  @Spec CommandSpec spec;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Override
  public Integer call() throws Exception {
    if (weight < 0) {
      throw new ParameterException(
          spec.commandLine(), "--weight must be 0 or more (a weight Argo can send), not " + weight);
    }
    try (KubernetesClient client = kube.connect();
        KubernetesRouteClient routes = KubeOptions.routes(client)) {
      String ns = KubeOptions.namespace(namespace, client);
      ArgoRollout argo = new RolloutReader(client, options.pluginNames).get(ns, rollout);
      List<HeaderRoute> headers = new ArrayList<>();
      for (String name : headerRoutes) {
        headers.add(argo.headerRouteStep(name));
      }
      List<MirrorRoute> mirrors = new ArrayList<>();
      for (String name : mirrorRoutes) {
        mirrors.add(argo.mirrorRouteStep(name));
      }
      PlanningRouteClient planning = new PlanningRouteClient(routes);
      DryRun.plan(planning, argo, headers, mirrors, weight, List.of());
      PrintWriter out = spec.commandLine().getOut();
      if (options.output != OutputFormat.text) {
        out.print(options.output.document(json(argo, headers, mirrors, planning)));
      } else {
        out.print(text(argo, headers, mirrors, weight, planning));
      }
      out.flush();
    }
    return 0;
  }

  /** The text view: a diff per route, then the patches. */
  static String text(
      ArgoRollout argo,
      List<HeaderRoute> headers,
      List<MirrorRoute> mirrors,
      int weight,
      PlanningRouteClient planning)
      throws Exception {
    StringBuilder out = new StringBuilder();
    List<String> calls = new ArrayList<>();
    headers.forEach(h -> calls.add("SetHeaderRoute \"" + h.name() + "\""));
    mirrors.forEach(m -> calls.add("SetMirrorRoute \"" + m.name() + "\""));
    calls.add("SetWeight " + weight + " (of " + argo.maxTrafficWeight() + ")");
    out.append("Dry run on Rollout ")
        .append(argo.key())
        .append(" (plugin ")
        .append(argo.pluginKey())
        .append("): ")
        .append(String.join(", then ", calls))
        .append(". Nothing was written.\n\n");
    for (RouteId id : planning.routes()) {
      Optional<ObservedRoute> before = planning.live(id);
      if (before.isEmpty()) {
        out.append(id).append(": does not exist\n\n");
        continue;
      }
      ObservedRoute after = planning.after(id).orElseThrow();
      if (!changed(planning, id)) {
        out.append(id).append(": no change\n\n");
        continue;
      }
      RouteText.diff(
              id + " (live, resourceVersion " + before.get().resourceVersion() + ")",
              RouteText.lines(before.get().object()),
              id + " (planned)",
              RouteText.lines(after.object()))
          .forEach(line -> out.append(line).append('\n'));
      out.append('\n');
    }
    if (planning.patches().isEmpty()) {
      out.append("No patch: every route already carries these weights.\n");
      return out.toString();
    }
    out.append(
        "JSON patches (RFC 6902), in order; plugin-server sends each with a leading test of"
            + " metadata.resourceVersion:\n");
    for (RecordedPatch p : planning.patches()) {
      out.append("# ").append(p.call()).append(": ").append(p.route()).append('\n');
      ArrayNode ops = JSON.createArrayNode().addAll(p.ops());
      out.append(JSON.writeValueAsString(ops)).append('\n');
    }
    return out.toString();
  }

  /** The JSON view: the same content for scripts. */
  static ObjectNode json(
      ArgoRollout argo,
      List<HeaderRoute> headers,
      List<MirrorRoute> mirrors,
      PlanningRouteClient planning) {
    ObjectNode root = JSON.createObjectNode();
    root.put("rollout", argo.key()).put("plugin", argo.pluginKey());
    ArrayNode routes = root.putArray("routes");
    for (RouteId id : planning.routes()) {
      ObjectNode r = routes.addObject();
      r.put("kind", id.kind().kind()).put("namespace", id.namespace()).put("name", id.name());
      Optional<ObservedRoute> before = planning.live(id);
      r.put("exists", before.isPresent());
      if (before.isEmpty()) {
        continue;
      }
      r.put("resourceVersion", before.get().resourceVersion());
      r.put("changed", changed(planning, id));
      ArrayNode diff = r.putArray("diff");
      RouteText.diff(
              "live",
              RouteText.lines(before.get().object()),
              "planned",
              RouteText.lines(planning.after(id).orElseThrow().object()))
          .stream()
          .skip(2)
          .forEach(diff::add);
    }
    ArrayNode patches = root.putArray("patches");
    for (RecordedPatch p : planning.patches()) {
      ObjectNode o = patches.addObject();
      o.put("call", p.call())
          .put("kind", p.route().kind().kind())
          .put("namespace", p.route().namespace())
          .put("name", p.route().name());
      o.putArray("ops").addAll(p.ops());
    }
    ArrayNode headerNames = root.putArray("headerRoutes");
    headers.forEach(h -> headerNames.add(h.name()));
    ArrayNode mirrorNames = root.putArray("mirrorRoutes");
    mirrors.forEach(m -> mirrorNames.add(m.name()));
    return root;
  }

  private static boolean changed(PlanningRouteClient planning, RouteId id) {
    return planning.patches().stream().anyMatch(p -> p.route().equals(id));
  }
}
