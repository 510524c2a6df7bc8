package io.weighbridge.e2e;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.weighbridge.adapter.kubernetes.ApiCallCounter;
import io.weighbridge.adapter.kubernetes.KubernetesClients;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.routing.GatewayApiTrafficRouter;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouterSettings;
import io.weighbridge.domain.routing.RoutingMetrics;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The routing engine's bench (issue 3): SetWeight on 1, 10 and 100 HTTPRoutes of one Rollout on a
 * real kube-apiserver, driven in-process through {@link GatewayApiTrafficRouter} on the real
 * Kubernetes adapter. Prints, per SetWeight, the API requests counted twice: by plugin-server's own
 * HTTP-client interceptor ({@link ApiCallCounter}) and by the kube-apiserver itself (its {@code
 * apiserver_request_total} metric before and after, per route), with latency, for a changed and an
 * unchanged weight; then a tight loop of alternating SetWeight calls with no other writer (drift
 * restorations must be 0: our own writes are not drift); then the time a third party's weight edit
 * takes to be restored. Targets are printed beside the numbers, never asserted. Run by {@code make
 * bench}; must run with the repository checkout as working directory.
 *
 * <p>Flags: {@code --iterations=N} (calls per measurement for 1 route, default 300; 10 routes get
 * N/3, 100 routes N/10), {@code --loop=N} (alternating SetWeight calls of the tight loop, default
 * 10000), {@code --drift-samples=N} (default 10).
 */
public final class EngineBenchMain {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Caller CALLER = new Caller("weighbridge/gateway-api", "bench");
  private static final String ROLLOUT = "checkout";

  private EngineBenchMain() {}

  /** Runs the bench and exits. */
  public static void main(String[] args) throws Exception {
    int iterations = 300;
    int driftSamples = 10;
    int loop = 10_000;
    for (String arg : args) {
      if (arg.startsWith("--iterations=")) {
        iterations = Integer.parseInt(arg.substring("--iterations=".length()));
      } else if (arg.startsWith("--loop=")) {
        loop = Integer.parseInt(arg.substring("--loop=".length()));
      } else if (arg.startsWith("--drift-samples=")) {
        driftSamples = Integer.parseInt(arg.substring("--drift-samples=".length()));
      } else {
        throw new IllegalArgumentException(
            "unknown flag " + arg + "; known: --iterations=N --loop=N --drift-samples=N");
      }
    }

    long t0 = System.nanoTime();
    ApiCallCounter counter = new ApiCallCounter();
    try (KubeApiServer apiServer = EngineFixtures.startApiServer(Crds.GATEWAY_API_LATEST);
        KubernetesClient kube =
            KubernetesClients.create(
                KubernetesClients.Settings.defaults().withKubeconfig(apiServer.kubeconfig()),
                counter)) {
      System.out.printf(
          "%nRouting engine (GatewayApiTrafficRouter + KubernetesRouteClient, in-process) on a real"
              + " kube-apiserver v1.34.1 with Gateway API v1.5.1 experimental (started in %d ms)%n",
          ms(System.nanoTime() - t0));
      System.out.println(
          "writes/reads per call = PATCHes/GETs counted by plugin-server's HTTP-client interceptor"
              + " (informer list/watch apart); apiserver PATCH|GET/route = the kube-apiserver's own"
              + " apiserver_request_total for httproutes, per route written");
      System.out.printf(
          "%-6s %-10s %6s %11s %10s %16s %8s %8s %8s   %s%n",
          "routes",
          "SetWeight",
          "calls",
          "writes/call",
          "reads/call",
          "apiserver P|G/rt",
          "p50 ms",
          "p99 ms",
          "max ms",
          "target");

      BlockingQueue<Long> restored = new LinkedBlockingQueue<>();
      RoutingMetrics metrics =
          new RoutingMetrics() {
            @Override
            public void driftRestored(RouteId route) {
              restored.add(System.nanoTime());
            }
          };
      try (KubernetesRouteClient routes =
              new KubernetesRouteClient(kube, KubernetesRouteClient.Settings.defaults());
          GatewayApiTrafficRouter router =
              new GatewayApiTrafficRouter(routes, metrics, RouterSettings.defaults())) {
        Rollout first = null;
        for (int n : new int[] {1, 10, 100}) {
          Rollout rollout = fixtures(apiServer.client(), "bench-" + n, n);
          if (first == null) {
            first = rollout;
          }
          int calls = Math.max(10, iterations / (n == 1 ? 1 : n == 10 ? 3 : 10));
          measure(apiServer.client(), router, counter, rollout, n, calls);
        }
        loop(apiServer.client(), router, restored, first, loop);
        drift(apiServer.client(), router, restored, first, driftSamples);
      }
    }
  }

  /** Creates namespace {@code ns} with the Services and {@code n} HTTPRoutes; the Rollout. */
  private static Rollout fixtures(KubernetesClient admin, String ns, int n) throws Exception {
    EngineFixtures.namespaceWithServices(admin, ns);
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<?>> created = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = routeName(i);
        created.add(pool.submit(() -> EngineFixtures.httpRoute(admin, ns, name)));
      }
      for (Future<?> f : created) {
        f.get(); // fails the bench with the API server's answer
      }
    }
    ObjectNode config = JSON.createObjectNode();
    ArrayNode list = config.putArray("httpRoutes");
    for (int i = 0; i < n; i++) {
      list.addObject().put("name", routeName(i));
    }
    ObjectNode ro = JSON.createObjectNode();
    ro.put("apiVersion", "argoproj.io/v1alpha1").put("kind", "Rollout");
    ro.putObject("metadata")
        .put("namespace", ns)
        .put("name", ROLLOUT)
        // Unique per Rollout, as in a cluster (the engine caches parsed configurations by uid).
        .put("uid", UUID.nameUUIDFromBytes((ns + "/" + ROLLOUT).getBytes(UTF_8)).toString())
        .put("generation", 1)
        .put("resourceVersion", "1");
    ObjectNode canary = ro.putObject("spec").putObject("strategy").putObject("canary");
    canary.put("canaryService", EngineFixtures.CANARY).put("stableService", EngineFixtures.STABLE);
    canary.putObject("trafficRouting").putObject("plugins").set(CALLER.pluginName(), config);
    return new Rollout(ns, ROLLOUT, ro.at("/metadata/uid").asText(), 1, "1", ro);
  }

  private static String routeName(int i) {
    return "route-%03d".formatted(i);
  }

  private static void measure(
      KubernetesClient admin,
      GatewayApiTrafficRouter router,
      ApiCallCounter counter,
      Rollout rollout,
      int n,
      int calls) {
    // The very first call discovers the served API versions, reads the route kind's CRD schema
    // and starts its informer; shown apart because it happens once per route kind.
    long reads0 = counter.reads();
    long writes0 = counter.writes();
    long start = System.nanoTime();
    router.setWeight(CALLER, rollout, 1, List.of());
    long firstNanos = System.nanoTime() - start;
    row(
        n,
        "first",
        1,
        counter.writes() - writes0,
        counter.reads() - reads0,
        null,
        new long[] {firstNanos},
        n == 1
            ? "(first call: API discovery, CRD schema, informer start and sync)"
            : "(the Rollout's first call)");
    for (int i = 0; i < 20; i++) { // warm-up of the JIT
      router.setWeight(CALLER, rollout, 2 + i % 2, List.of());
    }

    long[] changed = new long[calls];
    reads0 = counter.reads();
    writes0 = counter.writes();
    ApiServerRequests server0 = ApiServerRequests.read(admin, "httproutes");
    int notCarried = 0;
    for (int i = 0; i < calls; i++) {
      int weight = 10 + i % 2; // differs from the previous call: every call changes every route
      long s = System.nanoTime();
      router.setWeight(CALLER, rollout, weight, List.of());
      changed[i] = System.nanoTime() - s;
      // For 1 route, check each call on the API server (with the administrator's client: not
      // counted, not timed): a SetWeight that returned must have left its weight there.
      if (n == 1 && canaryWeights(admin, rollout.namespace(), n).anyMatch(w -> w != weight)) {
        notCarried++;
      }
    }
    if (notCarried > 0) {
      System.out.printf(
          "  !! after %d of %d calls the API server did not carry the call's weight%n",
          notCarried, calls);
    }
    row(
        n,
        "changed",
        calls,
        counter.writes() - writes0,
        counter.reads() - reads0,
        ApiServerRequests.read(admin, "httproutes").minus(server0).perRoute((long) calls * n),
        changed,
        "%d write/call (1 per route), 0 reads; apiserver 1|0%s"
            .formatted(n, n == 1 ? "; p99 <= 20 ms" : ""));
    int last = 10 + (calls - 1) % 2;
    long atDesired = canaryWeights(admin, rollout.namespace(), n).filter(w -> w == last).count();
    if (atDesired != n) {
      System.out.printf(
          "  !! after the last changed call only %d of %d routes carry canary weight %d%n",
          atDesired, n, last);
    }

    long[] unchanged = new long[calls];
    reads0 = counter.reads();
    writes0 = counter.writes();
    server0 = ApiServerRequests.read(admin, "httproutes");
    for (int i = 0; i < calls; i++) {
      long s = System.nanoTime();
      router.setWeight(CALLER, rollout, 11 - (calls % 2), List.of());
      unchanged[i] = System.nanoTime() - s;
    }
    row(
        n,
        "unchanged",
        calls,
        counter.writes() - writes0,
        counter.reads() - reads0,
        ApiServerRequests.read(admin, "httproutes").minus(server0).perRoute((long) calls * n),
        unchanged,
        "0 API calls; apiserver 0|0");
  }

  private static void row(
      int routes,
      String what,
      int calls,
      long writes,
      long reads,
      String apiServer,
      long[] nanos,
      String target) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    System.out.printf(
        Locale.ROOT,
        "%-6d %-10s %6d %11.2f %10.2f %16s %8.2f %8.2f %8.2f   %s%n",
        routes,
        what,
        calls,
        (double) writes / calls,
        (double) reads / calls,
        apiServer == null ? "-" : apiServer,
        millis(percentile(sorted, 50)),
        millis(percentile(sorted, 99)),
        millis(sorted[sorted.length - 1]),
        target);
  }

  /**
   * {@code calls} SetWeight calls alternating 40/41 on the 1-route Rollout with no other writer:
   * every call changes the route, and its own write's watch event races the next call. Own writes
   * are never drift, so the drift restorations must stay 0; the API server must see exactly one
   * PATCH and no GET per call.
   */
  private static void loop(
      KubernetesClient admin,
      GatewayApiTrafficRouter router,
      BlockingQueue<Long> restored,
      Rollout rollout,
      int calls)
      throws InterruptedException {
    router.setWeight(CALLER, rollout, 39, List.of());
    Thread.sleep(1000); // let the watch events of the earlier phases settle (bench, not a test)
    restored.clear();
    ApiServerRequests before = ApiServerRequests.read(admin, "httproutes");
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      router.setWeight(CALLER, rollout, 40 + i % 2, List.of());
    }
    long nanos = System.nanoTime() - start;
    ApiServerRequests delta = ApiServerRequests.read(admin, "httproutes").minus(before);
    // Watch events of the last writes arrive after the loop: give them time to be (mis)judged.
    Thread.sleep(2000);
    System.out.printf(
        Locale.ROOT,
        "tight loop: %d alternating SetWeight calls on 1 route, no other writer, %.2f ms/call:"
            + " drift restorations %d (target 0); apiserver per call: PATCH %.3f, GET %.3f"
            + " (target 1 / 0)%n",
        calls,
        millis(nanos) / calls,
        restored.size(),
        (double) delta.patches() / calls,
        (double) delta.gets() / calls);
  }

  /**
   * A third party sets the weights of route 0 of the 1-route Rollout to 23/77 while the canary is
   * at 30 or 31; measures from just before its patch is sent until the engine's restoring write
   * returned, in two situations: the route unchanged for 2.5 s before the edit, and the edit right
   * after a SetWeight. The engine spaces restorations of one route by driftMinInterval (1 s by
   * default), so that a tool fighting over the weights cannot make it write in a loop; an Argo call
   * on the route (here the SetWeight) starts afresh, so neither case should wait for the interval.
   */
  private static void drift(
      KubernetesClient admin,
      GatewayApiTrafficRouter router,
      BlockingQueue<Long> restored,
      Rollout rollout,
      int samples)
      throws InterruptedException {
    var route =
        admin
            .genericKubernetesResources(EngineFixtures.GATEWAY_API, "HTTPRoute")
            .inNamespace(rollout.namespace())
            .withName(routeName(0));
    String thirdParty =
        """
        [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 23},
         {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 77}]
        """;
    for (boolean afterSetWeight : new boolean[] {false, true}) {
      List<Long> latencies = new ArrayList<>();
      int missed = 0;
      int wrong = 0;
      for (int i = 0; i < samples; i++) {
        int weight = 30 + i % 2;
        router.setWeight(CALLER, rollout, weight, List.of());
        if (!afterSetWeight) {
          Thread.sleep(2500);
        }
        restored.clear();
        long start = System.nanoTime();
        route.patch(PatchContext.of(PatchType.JSON), thirdParty);
        Long at = restored.poll(5, TimeUnit.SECONDS);
        if (at == null) {
          missed++;
          continue;
        }
        latencies.add(at - start);
        if (canaryWeight(route.get()) != weight) {
          wrong++;
        }
      }
      long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
      System.out.printf(
          Locale.ROOT,
          "drift restore, %-34s %2d samples: p50 %7.1f ms, max %7.1f ms; not restored in 5 s: %d,"
              + " wrong weight after: %d   target <= 1000 ms%n",
          afterSetWeight ? "edit right after a SetWeight:" : "edit on a route quiet for 2.5 s:",
          sorted.length,
          sorted.length == 0 ? Double.NaN : millis(percentile(sorted, 50)),
          sorted.length == 0 ? Double.NaN : millis(sorted[sorted.length - 1]),
          missed,
          wrong);
    }
    router.setWeight(CALLER, rollout, 0, List.of());
  }

  /** The canary (second) backend weight of each route's first rule, read from the API server. */
  private static java.util.stream.LongStream canaryWeights(
      KubernetesClient admin, String ns, int n) {
    return admin
        .genericKubernetesResources(EngineFixtures.GATEWAY_API, "HTTPRoute")
        .inNamespace(ns)
        .list()
        .getItems()
        .stream()
        .mapToLong(r -> canaryWeight(r));
  }

  private static long canaryWeight(GenericKubernetesResource route) {
    Object weight =
        ((Map<?, ?>)
                ((List<?>)
                        ((Map<?, ?>) ((List<?>) spec(route).get("rules")).get(0))
                            .get("backendRefs"))
                    .get(1))
            .get("weight");
    return weight instanceof Number num ? num.longValue() : -1;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> spec(GenericKubernetesResource r) {
    return (Map<String, Object>) r.getAdditionalProperties().get("spec");
  }

  private static long percentile(long[] sorted, int p) {
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  private static double millis(long nanos) {
    return nanos / 1e6;
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }

  /**
   * The kube-apiserver's own count of requests on one resource (its {@code
   * apiserver_request_total}, read from /metrics with the administrator's client), by verb.
   */
  record ApiServerRequests(long patches, long gets) {

    static ApiServerRequests read(KubernetesClient admin, String resource) {
      String text = admin.raw("/metrics");
      long patches = 0;
      long gets = 0;
      for (String line : text.split("\n")) {
        if (!line.startsWith("apiserver_request_total{")
            || !line.contains("resource=\"" + resource + "\"")) {
          continue;
        }
        long value = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        if (line.contains("verb=\"PATCH\"")) {
          patches += value;
        } else if (line.contains("verb=\"GET\"")) {
          gets += value;
        }
      }
      return new ApiServerRequests(patches, gets);
    }

    ApiServerRequests minus(ApiServerRequests before) {
      return new ApiServerRequests(patches - before.patches, gets - before.gets);
    }

    /** "PATCH|GET" per route written. */
    String perRoute(long routeCalls) {
      return String.format(
          Locale.ROOT, "%.2f|%.2f", (double) patches / routeCalls, (double) gets / routeCalls);
    }
  }
}
