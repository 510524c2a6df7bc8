package io.weighbridge.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.kubernetes.ApiCallCounter;
import io.weighbridge.adapter.kubernetes.KubernetesClients;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.RouterSettings;
import io.weighbridge.domain.routing.RoutingMetrics;
import io.weighbridge.server.PluginServer;
import io.weighbridge.server.ServerConfig;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the whole real path below Argo's client and the connector, for the Go conformance test
 * {@code realpath_test.go}: a real kube-apiserver (testkit; Gateway API v1.5.1 experimental and
 * Argo Rollouts CRDs), the routes of {@link EngineFixtures} in namespace {@value #NAMESPACE}, and
 * the real {@link PluginServer} with the real routing engine ({@link GatewayApiTrafficRouter} on
 * the {@link KubernetesRouteClient} adapter), wired with the same constructors as the server's
 * Main.
 *
 * <p>Flags of its own: {@code --ports-file=PATH} (written as JSON once ready: pid, grpcPort,
 * httpPort, kubeconfig, namespace, httpRoute, grpcRoute). Every other argument goes to {@link
 * ServerConfig#parse}. Must run with the repository checkout as working directory (the testkit
 * finds the control-plane build script and testkit/upstream/resolve.sh, which gives the CRDs, from
 * there).
 */
public final class EngineServerMain {

  private static final Logger LOG = LoggerFactory.getLogger(EngineServerMain.class);

  /** The namespace of the fixtures. */
  static final String NAMESPACE = "shop";

  /** The Gateway-parented HTTPRoute. */
  static final String HTTP_ROUTE = "checkout-web";

  /** The Service-parented GRPCRoute. */
  static final String GRPC_ROUTE = "checkout-grpc";

  private EngineServerMain() {}

  /** Runs until the process is terminated; SIGTERM closes everything it started. */
  public static void main(String[] args) throws IOException, InterruptedException {
    Path portsFile = null;
    List<String> serverArgs = new ArrayList<>();
    for (String arg : args) {
      if (arg.startsWith("--ports-file=")) {
        portsFile = Path.of(arg.substring("--ports-file=".length()));
      } else {
        serverArgs.add(arg);
      }
    }
    ServerConfig config = ServerConfig.parse(serverArgs.toArray(String[]::new), System.getenv());

    long started = System.nanoTime();
    KubeApiServer apiServer =
        EngineFixtures.startApiServer(Crds.GATEWAY_API_LATEST, Crds.ARGO_ROLLOUTS);
    KubernetesClient admin = apiServer.client();
    EngineFixtures.namespaceWithServices(admin, NAMESPACE);
    EngineFixtures.httpRoute(admin, NAMESPACE, HTTP_ROUTE);
    EngineFixtures.grpcRoute(admin, NAMESPACE, GRPC_ROUTE);
    LOG.info(
        "kube-apiserver with CRDs and fixtures ready in {} ms",
        (System.nanoTime() - started) / 1_000_000);

    // The engine talks to the API server with its own client from the kubeconfig, as in a
    // deployment with --kubeconfig.
    KubernetesClient kube =
        KubernetesClients.create(
            KubernetesClients.Settings.defaults().withKubeconfig(apiServer.kubeconfig()));
    KubernetesRouteClient routes =
        new KubernetesRouteClient(
            kube, KubernetesRouteClient.Settings.defaults(), new ApiCallCounter());
    GatewayApiTrafficRouter router =
        new GatewayApiTrafficRouter(routes, RoutingMetrics.noop(), RouterSettings.defaults());
    PluginServer server =
        new PluginServer(config, router, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    server.start();

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  router.close();
                  routes.close();
                  kube.close();
                  apiServer.close();
                  stopped.countDown();
                },
                "engine-server-shutdown"));

    ObjectNode ready = new ObjectMapper().createObjectNode();
    ready
        .put("pid", ProcessHandle.current().pid())
        .put("grpcPort", server.grpcPort())
        .put("httpPort", server.httpPort())
        .put("controlPort", 0)
        .put("kubeconfig", apiServer.kubeconfig().toAbsolutePath().toString())
        .put("namespace", NAMESPACE)
        .put("httpRoute", HTTP_ROUTE)
        .put("grpcRoute", GRPC_ROUTE);
    if (portsFile != null) {
      Path partial = portsFile.resolveSibling(portsFile.getFileName() + ".partial");
      Files.writeString(partial, ready.toString(), StandardCharsets.UTF_8);
      Files.move(partial, portsFile, StandardCopyOption.ATOMIC_MOVE);
    }
    System.out.println("ENGINE-SERVER READY " + ready);
    System.out.flush();
    stopped.await();
  }
}
