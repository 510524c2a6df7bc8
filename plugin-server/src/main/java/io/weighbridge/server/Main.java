package io.weighbridge.server;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.weighbridge.adapter.kubernetes.ApiServerProbe;
import io.weighbridge.adapter.kubernetes.KubernetesClients;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.adapter.kubernetes.MicrometerApiCallRecorder;
import io.weighbridge.adapter.kubernetes.TokenReviewAuthenticator;
import io.weighbridge.adapter.metrics.MicrometerRoutingMetrics;
import io.weighbridge.cli.Cli;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.ResumeSettings;
import io.weighbridge.domain.routing.RouterSettings;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The plugin-server process: reads the configuration, wires the parts, serves until SIGTERM. */
public final class Main {

  private Main() {}

  /**
   * Starts plugin-server; {@code --help} lists the flags. Exits 2 on bad flags, 1 on failure. A
   * first argument naming a CLI command runs that command instead.
   */
  public static void main(String[] args) throws InterruptedException {
    // Operator CLI: `java -jar ... status|plan|connector-config ...` (io.weighbridge.cli).
    if (Cli.isCommand(args)) {
      System.exit(Cli.execute(args));
      return;
    }
    if (ServerConfig.helpRequested(args)) {
      System.out.print(ServerConfig.usage());
      return;
    }
    ServerConfig config;
    try {
      config = ServerConfig.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("weighbridge plugin-server: " + e.getMessage());
      System.err.println("Run with --help to list the flags.");
      System.exit(2);
      return;
    }
    Logging.configure(config.logFormat(), config.logLevel());
    Logger log = LoggerFactory.getLogger(Main.class);
    logConfiguration(log, config);

    // Building the fabric8 client loads many classes; overlap it with the registry's. It only reads
    // the kubeconfig or the ServiceAccount files: no request is sent here.
    CompletableFuture<KubernetesClient> kubeFuture =
        CompletableFuture.supplyAsync(
            () -> KubernetesClients.create(clientSettings(config)),
            task -> Thread.ofPlatform().name("weighbridge-kube-init").daemon().start(task));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    KubernetesClient kube;
    try {
      kube = kubeFuture.join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      log.error(
          "plugin-server cannot build its Kubernetes client: {}; pass --kubeconfig (and"
              + " --kube-context) or run in a Pod with a ServiceAccount",
          cause.getMessage());
      System.exit(1);
      return;
    }
    KubernetesRouteClient routes =
        new KubernetesRouteClient(
            kube, routeClientSettings(config), new MicrometerApiCallRecorder(registry));
    GatewayApiTrafficRouter router =
        new GatewayApiTrafficRouter(
            routes,
            new MicrometerRoutingMetrics(registry),
            new RouterSettings(
                config.lockTimeout(),
                config.driftMinInterval(),
                RouterSettings.defaults().idleRolloutTimeout(),
                RouterSettings.defaults().configCacheSize()));
    // Readiness does not follow the API server (see ApiServerProbe): ready as soon as we listen,
    // informers start on the first call that needs them, and an unreachable API server shows as
    // weighbridge_kubernetes_api_up 0 and as UNAVAILABLE answers naming it.
    ApiServerProbe probe = new ApiServerProbe(kube, registry, API_PROBE_INTERVAL);
    // --- Authentication of callers (--auth-mode, --allowed-service-accounts) and TLS ---
    PluginServer server;
    try {
      server =
          new PluginServer(
              config,
              router,
              registry,
              new TokenReviewAuthenticator(kube, config.security().authAudiences()));
    } catch (IllegalArgumentException e) {
      log.error("plugin-server cannot start: {}", e.getMessage());
      System.exit(1);
      return;
    }
    // ---- canary analyzer (issue #4): Prometheus, Rollout watcher, Lease, /api/v1/analyses ----
    AnalyzerWiring analyzer;
    try {
      analyzer = AnalyzerWiring.create(config, kube, router, registry, server, System.getenv());
    } catch (RuntimeException e) {
      log.error("plugin-server cannot set up the canary analyzer: {}", e.getMessage());
      System.exit(1);
      return;
    }
    // SIGTERM: drain within --shutdown-grace, then stop the engine, its informers and the client
    // (in that order: in-flight calls still need them); the JVM exits once the hook returns.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  analyzer.close();
                  probe.close();
                  router.close();
                  routes.close();
                  kube.close();
                },
                "weighbridge-shutdown"));
    try {
      server.start();
    } catch (RuntimeException e) {
      log.error("plugin-server cannot start: {}", e.getMessage());
      System.exit(1);
      return;
    }
    probe.start();
    analyzer.start();
    log.info("ready {} ms after the JVM started", ManagementFactory.getRuntimeMXBean().getUptime());
    // Drift restoration resumed from the routes' ledgers, in the background after readiness.
    resumeDriftRestoration(config, router, routes, log);
    server.awaitStopped();
  }

  /**
   * Resumes restoring the weights of canaries in progress before Argo's next call (cluster scope:
   * one list per route kind); with the namespace scope there is no namespace list to search, so
   * each Rollout is watched again at Argo's next call about it.
   */
  static void resumeDriftRestoration(
      ServerConfig config,
      GatewayApiTrafficRouter router,
      KubernetesRouteClient routes,
      Logger log) {
    switch (config.informerScope()) {
      case CLUSTER ->
          router.resume(routes, ResumeSettings.allNamespaces(config.acceptedPluginNames()));
      case NAMESPACE ->
          log.info(
              "informer scope namespace: drift restoration of a canary in progress resumes at"
                  + " Argo's next call about its Rollout (resuming at start needs a cluster-wide"
                  + " list of the routes: --informer-scope=cluster)");
    }
  }

  /** How often the API server's reachability is probed for the weighbridge_kubernetes_api_up. */
  static final Duration API_PROBE_INTERVAL = Duration.ofSeconds(15);

  static KubernetesClients.Settings clientSettings(ServerConfig config) {
    KubernetesClients.Settings defaults = KubernetesClients.Settings.defaults();
    return new KubernetesClients.Settings(
        config.kubeconfig(),
        config.kubeContext(),
        defaults.requestTimeout(),
        defaults.connectTimeout(),
        defaults.retries(),
        defaults.retryBackoff(),
        defaults.maxConcurrentRequestsPerHost());
  }

  static KubernetesRouteClient.Settings routeClientSettings(ServerConfig config) {
    return KubernetesRouteClient.Settings.defaults()
        .withScope(
            switch (config.informerScope()) {
              case CLUSTER -> KubernetesRouteClient.InformerScope.CLUSTER;
              case NAMESPACE -> KubernetesRouteClient.InformerScope.NAMESPACE;
            });
  }

  private static void logConfiguration(Logger log, ServerConfig config) {
    Map<String, String> values = config.effectiveValues();
    var line = log.atInfo();
    values.forEach(line::addKeyValue);
    StringBuilder text = new StringBuilder("starting weighbridge plugin-server:");
    values.forEach((key, value) -> text.append(' ').append(key).append('=').append(value));
    line.log(text.toString());
  }
}
