package io.weighbridge.e2e;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
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
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The k3s variant of {@code make e2e}'s cluster, for {@link RolloutsK3sE2E}: a real single-node
 * Kubernetes (k3s in a container: real kubelet and containerd, so Pods of real images become Ready
 * for real), Gateway API and Argo Rollouts CRDs from the pinned modules ({@link Crds}), the
 * official Argo Rollouts controller image in the cluster with {@code argo-rollouts-config}
 * registering our connector as a user would (by HTTP location and sha256), plugin-server in this
 * JVM with the real routing engine, and a route-status writer playing Traefik's and Linkerd's
 * controllers (status only).
 *
 * <p>The controller runs in the cluster, not as the locally built binary {@code make e2e} runs:
 * what this variant adds is the way users deploy (the published image, the connector downloaded by
 * a Pod over the network from plugin-server's {@code /connector/linux-<arch>}, a real kubelet), and
 * it needs nothing built from Go modules but the connector.
 *
 * <p>plugin-server runs on the host with {@code --auth-mode=none}: it runs outside the cluster (no
 * ServiceAccount token, so tokenreview is not its default anyway), and authentication has its own
 * end-to-end test ({@code TestAuthenticationEndToEnd}); here it would only add a TokenReview RBAC
 * setup unrelated to the scenarios. Pods reach it through Testcontainers' host port forwarding.
 */
final class K3sCluster implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(K3sCluster.class);

  /** k3s of the Kubernetes minor the rest of the project builds against (v1.34). */
  static final String K3S_IMAGE =
      System.getProperty("weighbridge.k3s.image", "rancher/k3s:v1.34.1-k3s1");

  /** The official controller image of the Argo Rollouts version the project targets. */
  static final String ARGO_IMAGE =
      System.getProperty("weighbridge.argo.image", "quay.io/argoproj/argo-rollouts:v1.9.1");

  /** The name the connector is registered under in argo-rollouts-config. */
  static final String PLUGIN_NAME = "weighbridge/gateway-api";

  /** The controller's namespace (it reads argo-rollouts-config from there). */
  static final String ARGO_NAMESPACE = "argo-rollouts";

  /** The name under which containers (and, via hostAliases, Pods) reach this host. */
  static final String HOST = "host.testcontainers.internal";

  static final String TRAEFIK_CONTROLLER = "traefik.io/gateway-controller";
  static final String LINKERD_CONTROLLER = "linkerd.io/gateway-controller";

  private final List<AutoCloseable> opened = new ArrayList<>();
  private K3sContainer k3s;
  private KubernetesClient admin;
  private PluginServer server;

  /** What the running plugin-server owns (its engine and client), closed by a stop. */
  private final List<AutoCloseable> serverParts = new ArrayList<>();

  /** The ports of the first plugin-server: exposed to the cluster, registered with Argo. */
  private int grpcPort;

  private int httpPort;
  private Path kubeconfig;
  private Path connectorDist;
  private ScheduledExecutorService statusWriter;

  /** Whether a Docker engine answers (Testcontainers' own discovery: env, socket, config). */
  static boolean dockerAvailable() {
    return DockerClientFactory.instance().isDockerAvailable();
  }

  /** The admin client of the k3s API server. */
  KubernetesClient client() {
    return admin;
  }

  /**
   * Starts everything; on failure, closes what was started. {@code connectorDist} holds {@code
   * weighbridge-connector-linux-<arch>} for the k3s node's architecture ({@code make
   * connector-dist}).
   */
  static K3sCluster start(Path connectorDist) {
    K3sCluster cluster = new K3sCluster();
    try {
      cluster.startAll(connectorDist);
      return cluster;
    } catch (RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
  }

  private void startAll(Path connectorDist) {
    long began = System.nanoTime();
    // withAccessToHost: host ports can then be exposed after the start (once plugin-server has its
    // ports), and the container's /etc/hosts names host.testcontainers.internal.
    k3s =
        new K3sContainer(DockerImageName.parse(K3S_IMAGE).asCompatibleSubstituteFor("rancher/k3s"))
            .withAccessToHost(true);
    k3s.start();
    opened.add(k3s::stop);
    kubeconfig = writeTemp("k3s-kubeconfig", ".yaml", k3s.getKubeConfigYaml());
    this.connectorDist = connectorDist;
    admin =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(k3s.getKubeConfigYaml()))
            .build();
    opened.add(admin);
    step("k3s " + K3S_IMAGE + " started", began);

    Crds crds = Crds.locate();
    crds.install(admin, Crds.GATEWAY_API_LATEST);
    crds.install(admin, Crds.ARGO_ROLLOUTS);
    step("Gateway API and Argo Rollouts CRDs established", began);

    String arch = nodeArchitecture();
    Path connector = connectorDist.resolve("weighbridge-connector-linux-" + arch);
    if (!Files.isRegularFile(connector)) {
      throw new IllegalStateException(
          "no "
              + connector
              + " for the k3s node's architecture "
              + arch
              + ": run `make connector-dist` (make e2e-k3s does) or set WEIGHBRIDGE_CONNECTOR_DIST");
    }
    opened.add(this::stopPluginServer);
    startPluginServer(0, 0);
    Testcontainers.exposeHostPorts(server.grpcPort(), server.httpPort());
    step(
        "plugin-server ready (gRPC :%d, HTTP :%d), exposed to the cluster"
            .formatted(server.grpcPort(), server.httpPort()),
        began);

    String location = "http://%s:%d/connector/linux-%s".formatted(HOST, server.httpPort(), arch);
    String sha256 = sha256(connector);
    checkPublishedDigest(arch, sha256, connector);
    installArgo(location, sha256);
    step("Argo Rollouts controller Ready with the connector from " + location, began);

    statusWriter = Executors.newSingleThreadScheduledExecutor();
    statusWriter.scheduleWithFixedDelay(this::acceptRoutes, 0, 200, TimeUnit.MILLISECONDS);
    opened.add(statusWriter::shutdownNow);
  }

  private static void step(String what, long began) {
    LOG.info("k3s e2e: {} ({} s since start)", what, (System.nanoTime() - began) / 1_000_000_000);
  }

  private String nodeArchitecture() {
    return Awaitility.await("the k3s node registered")
        .atMost(Duration.ofMinutes(2))
        .until(
            () ->
                admin.nodes().list().getItems().stream()
                    .map(n -> n.getStatus().getNodeInfo().getArchitecture())
                    .findFirst()
                    .orElse(null),
            Objects::nonNull);
  }

  /**
   * plugin-server with the real engine, wired with Main's constructors (as EngineServerMain is);
   * not Main itself: its analyzer, API-server probe and startup drift resumption are not what these
   * scenarios exercise, and in-process the test gets the ports without a ports file.
   */
  private void startPluginServer(int grpcPort, int httpPort) {
    try {
      startPluginServerParts(grpcPort, httpPort);
    } catch (RuntimeException e) {
      stopPluginServer();
      throw e;
    }
  }

  private void startPluginServerParts(int grpcPort, int httpPort) {
    ServerConfig config =
        ServerConfig.parse(
            new String[] {
              "--grpc-port=" + grpcPort,
              "--http-port=" + httpPort,
              "--bind-address=127.0.0.1",
              "--auth-mode=none",
              "--connector-dir=" + connectorDist.toAbsolutePath()
            },
            Map.of());
    KubernetesClient kube =
        KubernetesClients.create(KubernetesClients.Settings.defaults().withKubeconfig(kubeconfig));
    serverParts.add(kube);
    KubernetesRouteClient routes =
        new KubernetesRouteClient(
            kube, KubernetesRouteClient.Settings.defaults(), new ApiCallCounter());
    serverParts.add(routes);
    // The router's settings from the flags, as Main builds them.
    RouterSettings defaults = RouterSettings.defaults();
    GatewayApiTrafficRouter router =
        new GatewayApiTrafficRouter(
            routes,
            RoutingMetrics.noop(),
            new RouterSettings(
                config.lockTimeout(),
                config.driftMinInterval(),
                defaults.idleRolloutTimeout(),
                defaults.configCacheSize()));
    serverParts.add(router);
    server =
        new PluginServer(config, router, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    serverParts.add(server);
    server.start();
    this.grpcPort = server.grpcPort();
    this.httpPort = server.httpPort();
  }

  /** Whether plugin-server is serving (between a stop and a restart it is not). */
  boolean pluginServerRunning() {
    return !serverParts.isEmpty();
  }

  /**
   * Stops plugin-server with its engine and Kubernetes client, as scenario (d) needs: from then on
   * the connector in the controller's Pod cannot reach it. In this JVM it is a close (bounded
   * drain), not make e2e's SIGKILL of a process: no call is in flight at the pause it is stopped
   * at, so what Argo sees is the same, a server that does not answer.
   */
  void stopPluginServer() {
    closeAll(serverParts);
  }

  /**
   * Starts a new plugin-server (a new engine and client, as a restarted process has: nothing is
   * carried over) on the ports of the first one, which are the ones exposed to the cluster and
   * registered with Argo; retries a bind refused while the old sockets linger. Returns how long it
   * took to serve.
   */
  Duration restartPluginServer() {
    if (pluginServerRunning()) {
      throw new IllegalStateException("plugin-server is running: stop it first");
    }
    long began = System.nanoTime();
    Awaitility.await(
            "plugin-server listening again on gRPC :%d, HTTP :%d".formatted(grpcPort, httpPort))
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        // The parts are this object's state: started on the test's thread, not Awaitility's.
        .pollInSameThread()
        .ignoreExceptionsInstanceOf(UncheckedIOException.class)
        .until(
            () -> {
              startPluginServer(grpcPort, httpPort);
              return true;
            });
    return Duration.ofNanos(System.nanoTime() - began);
  }

  /** As make e2e's harness does: what Argo will download is what we register the digest of. */
  private void checkPublishedDigest(String arch, String sha256, Path connector) {
    String url = "http://127.0.0.1:%d/connector/linux-%s.sha256".formatted(server.httpPort(), arch);
    try (HttpClient http = HttpClient.newHttpClient()) {
      HttpResponse<String> published =
          http.send(
              HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).build(),
              HttpResponse.BodyHandlers.ofString());
      String digest = published.body().strip().split("\\s+")[0];
      if (published.statusCode() != 200 || !digest.equals(sha256)) {
        throw new IllegalStateException(
            "%s answers %d %s; want the digest %s of %s"
                .formatted(url, published.statusCode(), published.body(), sha256, connector));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("GET " + url, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while reading " + url, e);
    }
  }

  private void installArgo(String location, String sha256) {
    admin
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(ARGO_NAMESPACE).endMetadata().build())
        .create();
    // As a user registers a traffic-router plugin: by location with its sha256 and the connector's
    // flags as args. YAML is a superset of JSON.
    Map<String, Object> plugin = new LinkedHashMap<>();
    plugin.put("name", PLUGIN_NAME);
    plugin.put("location", location);
    plugin.put("sha256", sha256);
    plugin.put("args", List.of("--server=%s:%d".formatted(HOST, server.grpcPort())));
    admin
        .configMaps()
        .inNamespace(ARGO_NAMESPACE)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("argo-rollouts-config")
                .withNamespace(ARGO_NAMESPACE)
                .endMetadata()
                .addToData(
                    "trafficRouterPlugins",
                    admin.getKubernetesSerialization().asJson(List.of(plugin)))
                .build())
        .create();
    String manifest =
        resource("/k3s/argo-rollouts.yaml")
            .replace("${IMAGE}", ARGO_IMAGE)
            .replace("${HOST_IP}", hostIp());
    admin.load(new ByteArrayInputStream(manifest.getBytes(StandardCharsets.UTF_8))).create();
    try {
      Awaitility.await("the Argo Rollouts controller Ready (image pulled, connector downloaded)")
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () -> {
                Deployment d =
                    admin
                        .apps()
                        .deployments()
                        .inNamespace(ARGO_NAMESPACE)
                        .withName("argo-rollouts")
                        .get();
                Integer ready = d == null ? null : d.getStatus().getReadyReplicas();
                return ready != null && ready >= 1;
              });
    } catch (ConditionTimeoutException e) {
      throw new IllegalStateException(
          e.getMessage() + "\nArgo Rollouts controller Pods:\n" + argoDiagnostics(), e);
    }
  }

  /** The IP of host.testcontainers.internal in the k3s container's /etc/hosts. */
  private String hostIp() {
    Path hosts = writeTemp("k3s-hosts", ".txt", "");
    k3s.copyFileFromContainer("/etc/hosts", hosts.toString());
    try {
      return Files.readAllLines(hosts).stream()
          .map(String::strip)
          .filter(line -> !line.startsWith("#"))
          .map(line -> line.split("\\s+"))
          .filter(f -> f.length > 1 && List.of(f).subList(1, f.length).contains(HOST))
          .map(f -> f[0])
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalStateException(
                      "the k3s container's /etc/hosts does not name "
                          + HOST
                          + ": Testcontainers' host access (withAccessToHost) did not take effect"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Status, events and the log tail of the controller's Pods: why it is not Ready. */
  String argoDiagnostics() {
    StringBuilder out = new StringBuilder();
    for (Pod pod : admin.pods().inNamespace(ARGO_NAMESPACE).list().getItems()) {
      out.append(pod.getMetadata().getName())
          .append(" status: ")
          .append(admin.getKubernetesSerialization().asJson(pod.getStatus()))
          .append('\n');
      try {
        out.append(
            admin
                .pods()
                .inNamespace(ARGO_NAMESPACE)
                .withName(pod.getMetadata().getName())
                .tailingLines(80)
                .getLog());
      } catch (KubernetesClientException e) {
        out.append("(no log: ").append(e.getMessage()).append(")\n");
      }
    }
    admin
        .v1()
        .events()
        .inNamespace(ARGO_NAMESPACE)
        .list()
        .getItems()
        .forEach(
            e ->
                out.append("event ")
                    .append(e.getReason())
                    .append(": ")
                    .append(e.getMessage())
                    .append('\n'));
    return out.toString();
  }

  /**
   * Plays Traefik's and Linkerd's controllers for status only: sets every route's status.parents
   * Accepted=True at its current generation, which Weighbridge's default {@code verifyWeight:
   * status} waits for (neither controller runs in this cluster).
   */
  private void acceptRoutes() {
    acceptRoutes(admin);
  }

  /** One round of {@link #acceptRoutes()} on {@code admin}'s cluster. */
  static void acceptRoutes(KubernetesClient admin) {
    try {
      for (String kind : List.of("HTTPRoute", "GRPCRoute")) {
        for (GenericKubernetesResource route :
            admin
                .genericKubernetesResources(EngineFixtures.GATEWAY_API, kind)
                .inAnyNamespace()
                .list()
                .getItems()) {
          if (!accepted(route)) {
            setAccepted(route);
            try {
              admin
                  .genericKubernetesResources(EngineFixtures.GATEWAY_API, kind)
                  .inNamespace(route.getMetadata().getNamespace())
                  .resource(route)
                  .status()
                  .update();
            } catch (KubernetesClientException e) {
              // A conflict: the route changed meanwhile; the next round sees the new generation.
            }
          }
        }
      }
    } catch (RuntimeException e) {
      LOG.debug("route-status writer: {}", e.toString());
    }
  }

  @SuppressWarnings("unchecked")
  private static boolean accepted(GenericKubernetesResource route) {
    List<Object> parents = route.get("spec", "parentRefs");
    Map<String, Object> status =
        (Map<String, Object>) route.getAdditionalProperties().get("status");
    List<Object> statuses = status == null ? null : (List<Object>) status.get("parents");
    if (parents == null || statuses == null || statuses.size() != parents.size()) {
      return false;
    }
    long generation = route.getMetadata().getGeneration();
    return statuses.stream()
        .map(s -> (List<Map<String, Object>>) ((Map<String, Object>) s).get("conditions"))
        .allMatch(
            conds ->
                conds != null
                    && conds.stream()
                        .anyMatch(
                            c ->
                                "Accepted".equals(c.get("type"))
                                    && "True".equals(c.get("status"))
                                    && String.valueOf(generation)
                                        .equals(String.valueOf(c.get("observedGeneration")))));
  }

  @SuppressWarnings("unchecked")
  private static void setAccepted(GenericKubernetesResource route) {
    List<Object> parents = route.get("spec", "parentRefs");
    String now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    long generation = route.getMetadata().getGeneration();
    List<Object> statuses = new ArrayList<>();
    for (Object p : parents) {
      Map<String, Object> ref = (Map<String, Object>) p;
      String controller =
          "Service".equals(ref.get("kind")) ? LINKERD_CONTROLLER : TRAEFIK_CONTROLLER;
      List<Object> conditions = new ArrayList<>();
      for (String type : List.of("Accepted", "ResolvedRefs")) {
        conditions.add(
            Map.of(
                "type", type,
                "status", "True",
                "reason", type,
                "message", "accepted by the e2e route-status writer",
                "observedGeneration", generation,
                "lastTransitionTime", now));
      }
      statuses.add(
          Map.of("parentRef", ref, "controllerName", controller, "conditions", conditions));
    }
    route.getAdditionalProperties().put("status", Map.of("parents", statuses));
  }

  private static String sha256(Path file) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String resource(String name) {
    try (InputStream in = K3sCluster.class.getResourceAsStream(name)) {
      return new String(Objects.requireNonNull(in, name).readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path writeTemp(String prefix, String suffix, String content) {
    try {
      Path file = Files.createTempFile(prefix, suffix);
      file.toFile().deleteOnExit();
      return Files.writeString(file, content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops everything in reverse order of start. */
  @Override
  public void close() {
    closeAll(opened);
  }

  /** Closes {@code all} last first, logging (not throwing) a failure, and empties it. */
  private static void closeAll(List<AutoCloseable> all) {
    for (int i = all.size() - 1; i >= 0; i--) {
      try {
        all.get(i).close();
      } catch (Exception e) {
        LOG.warn("k3s e2e: closing {} failed: {}", all.get(i), e.toString());
      }
    }
    all.clear();
  }
}
