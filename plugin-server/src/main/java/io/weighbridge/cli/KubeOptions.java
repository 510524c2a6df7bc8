package io.weighbridge.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.weighbridge.adapter.kubernetes.KubernetesClients;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The kubeconfig flags every cluster command takes, named as plugin-server's own. */
final class KubeOptions {

  @Option(
      names = "--kubeconfig",
      paramLabel = "FILE",
      description =
          "kubeconfig file; default: $KUBECONFIG, else ~/.kube/config, else the in-cluster"
              + " ServiceAccount")
  Path kubeconfig;

  @Option(
      names = "--kube-context",
      paramLabel = "NAME",
      description = "kubeconfig context; default: its current context")
  String context;

  /** A client with plugin-server's time bounds; the caller closes it. */
  KubernetesClient connect() {
    KubernetesClients.Settings d = KubernetesClients.Settings.defaults();
    try {
      return KubernetesClients.create(
          new KubernetesClients.Settings(
              Optional.ofNullable(kubeconfig),
              Optional.ofNullable(context),
              d.requestTimeout(),
              d.connectTimeout(),
              d.retries(),
              d.retryBackoff(),
              d.maxConcurrentRequestsPerHost()));
    } catch (RuntimeException e) {
      throw new CliException(
          "cannot build a Kubernetes client: "
              + e.getMessage()
              + "; pass --kubeconfig (and --kube-context) or set KUBECONFIG",
          e);
    }
  }

  /**
   * The engine's Kubernetes adapter with one informer per route kind and namespace in use, so that
   * an operator needs list/watch on routes only in the namespaces looked at.
   */
  static KubernetesRouteClient routes(KubernetesClient client) {
    return new KubernetesRouteClient(
        client,
        KubernetesRouteClient.Settings.defaults()
            .withScope(KubernetesRouteClient.InformerScope.NAMESPACE));
  }

  /** {@code explicit}, else the kubeconfig context's namespace, else {@code default}. */
  static String namespace(String explicit, KubernetesClient client) {
    if (explicit != null && !explicit.isBlank()) {
      return explicit;
    }
    String fromContext = client.getNamespace();
    return fromContext == null || fromContext.isBlank() ? "default" : fromContext;
  }
}
