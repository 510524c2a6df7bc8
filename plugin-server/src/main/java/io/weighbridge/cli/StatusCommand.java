package io.weighbridge.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.cli.StatusReport.AnalyzerInfo;
import io.weighbridge.cli.StatusReport.RolloutStatus;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code status}: the canaries in progress, their routes' live weights and the analyzer. */
@Command(
    name = "status",
    sortOptions = false,
    description = {
      "Shows the Rollouts that route with Weighbridge (plugins key weighbridge/gateway-api or"
          + " argoproj-labs/gatewayAPI): phase, step and the weight Argo set; per route the live"
          + " stable and canary weights, the header and mirror rules the Rollout manages, the"
          + " in-progress label and drift (whether the route differs from what that weight"
          + " makes it, found by a dry run of the real engine); and, with --server-url, the"
          + " analyzer's verdicts. Reads only; writes nothing.",
      "",
      "Needs get/list on rollouts.argoproj.io, list/watch on the route kinds and get on Services"
          + " and the route CRDs."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:shown (also when the analyzer is unreachable: the output says so)",
      "1:the cluster could not be read",
      "2:bad usage"
    })
final class StatusCommand implements Callable<Integer> {

  @Parameters(
      arity = "0..1",
      paramLabel = "ROLLOUT",
      description = "only this Rollout (default: every Rollout that uses Weighbridge)")
  String rollout;

  @Option(
      names = {"-n", "--namespace"},
      paramLabel = "NS",
      description = "namespace (default: the kubeconfig context's, else default)")
  String namespace;

  @Option(
      names = {"-A", "--all-namespaces"},
      description = "every namespace (needs list on rollouts cluster-wide)")
  boolean allNamespaces;

  @Option(
      names = "--server-url",
      paramLabel = "URL",
      description =
          "plugin-server's HTTP URL for the analyzer's verdicts (GET /api/v1/analyses), e.g."
              + " http://weighbridge.argo-rollouts.svc:8080 or http://localhost:8080 with a"
              + " port-forward; default: not queried")
  String serverUrl;

  @Mixin ReportOptions options;

  @Mixin KubeOptions kube;

  @Mixin HelpOption help;

  @Spec CommandSpec spec;

  private final HttpClient http;

  StatusCommand(HttpClient http) {
    this.http = http;
  }

  @Override
  public Integer call() throws Exception {
    if (allNamespaces && (namespace != null || rollout != null)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "-A/--all-namespaces goes with neither -n nor a ROLLOUT name");
    }
    URI server;
    try {
      server = serverUrl == null ? null : Urls.serverUrl(serverUrl);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    StatusReport report;
    try (KubernetesClient client = kube.connect();
        KubernetesRouteClient routes = KubeOptions.routes(client)) {
      String ns = allNamespaces ? null : KubeOptions.namespace(namespace, client);
      RolloutReader reader = new RolloutReader(client, options.pluginNames);
      List<ArgoRollout> rollouts =
          rollout == null ? reader.list(ns) : List.of(reader.get(ns, rollout));
      AnalysesClient.Answer answer =
          server == null ? null : new AnalysesClient(http, Duration.ofSeconds(5)).fetch(server);
      List<RolloutStatus> statuses = new ArrayList<>();
      for (ArgoRollout r : rollouts) {
        statuses.add(
            StatusBuilder.build(
                r,
                routes,
                answer == null
                    ? Optional.empty()
                    : answer.analysis(r.rollout().namespace(), r.rollout().name())));
      }
      report = new StatusReport(ns, analyzerInfo(server, answer), statuses);
    }
    print(report);
    return 0;
  }

  private static AnalyzerInfo analyzerInfo(URI server, AnalysesClient.Answer answer) {
    if (server == null) {
      return new AnalyzerInfo(null, "not-queried", null, null, null);
    }
    if (answer.body().isEmpty()) {
      return new AnalyzerInfo(server.toString(), "unreachable", answer.problem(), null, null);
    }
    var body = answer.body().get();
    if (body.path("enabled").isBoolean() && !body.path("enabled").asBoolean()) {
      return new AnalyzerInfo(
          server.toString(),
          "disabled",
          "plugin-server runs without --prometheus-url: no canary is analysed",
          null,
          body.path("identity").isTextual() ? body.path("identity").asText() : null);
    }
    return new AnalyzerInfo(
        server.toString(),
        "ok",
        null,
        body.path("leader").isBoolean() ? body.path("leader").asBoolean() : null,
        body.path("identity").isTextual() ? body.path("identity").asText() : null);
  }

  private void print(StatusReport report) throws Exception {
    var out = spec.commandLine().getOut();
    if (options.output != OutputFormat.text) {
      out.print(options.output.document(report));
    } else {
      out.print(StatusFormatter.text(report));
    }
    out.flush();
  }
}
