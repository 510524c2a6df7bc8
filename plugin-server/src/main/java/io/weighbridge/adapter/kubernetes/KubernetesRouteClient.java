package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.weighbridge.adapter.kubernetes.KubernetesErrors.Request;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RolloutLookup;
import io.weighbridge.domain.routing.RouteClient;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing engine's {@link RouteClient} (and {@link RolloutLookup}, for resuming after a
 * restart) on the fabric8 Kubernetes client.
 *
 * <ul>
 *   <li>Reads come from one informer per route kind in use (started at its first use, all
 *       namespaces or one per namespace, see {@link InformerScope}), never from the API server.
 *       Objects are handled as {@link GenericKubernetesResource}, so fields unknown to any Java
 *       model (newer Gateway API fields, the CORS filter, vendor extensions) survive.
 *   <li>Writes are RFC 6902 JSON patches that start with a {@code test} of
 *       metadata.resourceVersion. An empty plan sends nothing. A failed precondition re-reads the
 *       object from the API server, plans again and retries within a bound. We never send a full
 *       UPDATE (it drops what we do not model) nor a strategic merge patch (CRDs do not support
 *       it).
 *   <li>Every failure becomes a {@link WeighbridgeException} in {@link KubernetesErrors}.
 * </ul>
 *
 * <p>Services are read with a GET and kept for a short time instead of an informer: the engine
 * needs few of them, while an informer would hold every Service of the cluster and need list/watch
 * on Services in all namespaces.
 *
 * <p>Over 500 lines: its public configuration types ({@link Settings}, {@link InformerScope}, about
 * 120 lines) live here because Main, the CLI and the tests name them as {@code
 * KubernetesRouteClient.Settings}; informers ({@link RouteInformers}) and error translation ({@link
 * KubernetesErrors}) are already apart.
 */
public final class KubernetesRouteClient implements RouteClient, RolloutLookup, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(KubernetesRouteClient.class);

  private static final ResourceDefinitionContext SERVICES =
      new ResourceDefinitionContext.Builder()
          .withGroup("")
          .withVersion("v1")
          .withKind("Service")
          .withPlural("services")
          .withNamespaced(true)
          .build();

  private static final ResourceDefinitionContext ROLLOUTS =
      new ResourceDefinitionContext.Builder()
          .withGroup("argoproj.io")
          .withVersion("v1alpha1")
          .withKind("Rollout")
          .withPlural("rollouts")
          .withNamespaced(true)
          .build();

  private static final ResourceDefinitionContext CRDS =
      new ResourceDefinitionContext.Builder()
          .withGroup("apiextensions.k8s.io")
          .withVersion("v1")
          .withKind("CustomResourceDefinition")
          .withPlural("customresourcedefinitions")
          .withNamespaced(false)
          .build();

  /**
   * JSON patch; fields the served schema does not know fail the request instead of being silently
   * pruned (the engine asks {@link #servesField} first; this catches a CRD changed since).
   */
  private static final PatchContext PATCH =
      new PatchContext.Builder()
          .withPatchType(PatchType.JSON)
          .withFieldValidation("Strict")
          .build();

  private static final int MAX_CACHED_SERVICES = 1024;

  /** Which namespaces an informer covers. */
  public enum InformerScope {
    /**
     * One informer per route kind for all namespaces: fewest connections; needs a ClusterRole with
     * list/watch on the route kinds.
     */
    CLUSTER,
    /**
     * One informer per route kind and namespace in use: works with namespaced Roles; one watch per
     * kind and namespace.
     */
    NAMESPACE
  }

  /**
   * How the adapter caches and retries.
   *
   * @param scope which namespaces one informer covers
   * @param initialSyncTimeout how long the first use of a route kind waits for its informer's list
   * @param rediscoveryInterval the minimum time between two API discoveries when a route kind is
   *     not served (CRDs may be installed after the plugin-server starts)
   * @param maxPatchAttempts attempts of one patch when the route keeps changing under us
   * @param patchRetryBudget the time all attempts of one patch may take together
   * @param serviceCacheTtl how long a Service read from the API server is reused
   * @param schemaCacheTtl how long a route CRD's schema (for {@link #servesField}) is reused; a
   *     field that disappears within that time makes the next write fail loudly (patches are sent
   *     with strict field validation) instead of being pruned
   */
  public record Settings(
      InformerScope scope,
      Duration initialSyncTimeout,
      Duration rediscoveryInterval,
      int maxPatchAttempts,
      Duration patchRetryBudget,
      Duration serviceCacheTtl,
      Duration schemaCacheTtl) {

    /** Validates the settings. */
    public Settings {
      Objects.requireNonNull(scope, "scope");
      requireNotNegative(initialSyncTimeout, "initialSyncTimeout");
      requireNotNegative(rediscoveryInterval, "rediscoveryInterval");
      requireNotNegative(patchRetryBudget, "patchRetryBudget");
      requireNotNegative(serviceCacheTtl, "serviceCacheTtl");
      requireNotNegative(schemaCacheTtl, "schemaCacheTtl");
      if (maxPatchAttempts < 1) {
        throw new IllegalArgumentException(
            "maxPatchAttempts must be at least 1, got " + maxPatchAttempts);
      }
    }

    /**
     * Cluster-wide informers; 15 s to sync; rediscovery at most every 30 s; 5 patch attempts within
     * 5 s; Services reused for 10 s, CRD schemas for 60 s.
     */
    public static Settings defaults() {
      return new Settings(
          InformerScope.CLUSTER,
          Duration.ofSeconds(15),
          Duration.ofSeconds(30),
          5,
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofSeconds(60));
    }

    /** The same settings with another informer scope. */
    public Settings withScope(InformerScope newScope) {
      return new Settings(
          newScope,
          initialSyncTimeout,
          rediscoveryInterval,
          maxPatchAttempts,
          patchRetryBudget,
          serviceCacheTtl,
          schemaCacheTtl);
    }

    /** The same settings with another rediscovery interval. */
    public Settings withRediscoveryInterval(Duration interval) {
      return new Settings(
          scope,
          initialSyncTimeout,
          interval,
          maxPatchAttempts,
          patchRetryBudget,
          serviceCacheTtl,
          schemaCacheTtl);
    }

    private static void requireNotNegative(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isNegative()) {
        throw new IllegalArgumentException(name + " must not be negative, got " + d);
      }
    }
  }

  private record CachedService(JsonNode json, long expiresAtNanos) {}

  private record CachedSchema(String apiVersion, Optional<JsonNode> schema, long expiresAtNanos) {}

  private final KubernetesClient client;
  private final Settings settings;
  private final KubernetesSerialization serialization;
  // fabric8 8 serializes with Jackson 3; the domain speaks Jackson 2 JsonNode. JSON text bridges
  // the two exactly (a route is a few KB).
  private final ObjectMapper json = new ObjectMapper();
  private final RouteApiDiscovery discovery;
  private final RouteInformers informers;
  private final Map<String, CachedService> services = new ConcurrentHashMap<>();
  private final Map<RouteKind, CachedSchema> schemas = new ConcurrentHashMap<>();
  private final ObservedRouteMemo observed = new ObservedRouteMemo();

  /**
   * Creates the adapter; it starts nothing until first used.
   *
   * @param client the fabric8 client (the caller owns and closes it)
   * @param settings caching and retry bounds
   */
  public KubernetesRouteClient(KubernetesClient client, Settings settings) {
    this.client = Objects.requireNonNull(client, "client");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.serialization = client.getKubernetesSerialization();
    this.discovery =
        new RouteApiDiscovery(
            new RouteApiDiscovery.Source() {
              @Override
              public Optional<List<String>> versions(String group) {
                var apiGroup =
                    call(
                        new Request("discover", "discovery", group, null, "API group " + group),
                        () -> client.getApiGroup(group));
                return Optional.ofNullable(apiGroup)
                    .map(g -> g.getVersions().stream().map(v -> v.getVersion()).toList());
              }

              @Override
              public List<io.fabric8.kubernetes.api.model.APIResource> resources(
                  String groupVersion) {
                var list =
                    call(
                        new Request(
                            "discover", "discovery", groupVersion, null, "API " + groupVersion),
                        () -> client.getApiResources(groupVersion));
                return list == null || list.getResources() == null
                    ? List.of()
                    : list.getResources();
              }
            },
            settings.rediscoveryInterval(),
            System::nanoTime);
    this.informers =
        new RouteInformers(
            client, discovery, settings.scope(), settings.initialSyncTimeout(), this::observe);
  }

  @Override
  public Optional<String> apiVersion(RouteKind kind) {
    return discovery.resolve(kind).map(RouteApiDiscovery.Served::apiVersion);
  }

  @Override
  public boolean servesField(RouteKind kind, String fieldPath) {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(fieldPath, "fieldPath");
    Optional<RouteApiDiscovery.Served> served = discovery.resolve(kind);
    if (served.isEmpty()) {
      return false;
    }
    return schema(served.get()).map(s -> CrdSchemas.hasField(s, fieldPath)).orElse(false);
  }

  /** The served version's schema from the route's CRD, read with one GET per TTL. */
  private Optional<JsonNode> schema(RouteApiDiscovery.Served served) {
    long now = System.nanoTime();
    CachedSchema cached = schemas.get(served.kind());
    if (cached != null
        && cached.apiVersion().equals(served.apiVersion())
        && now - cached.expiresAtNanos() < 0) {
      return cached.schema();
    }
    String crdName = served.context().getPlural() + "." + RouteKind.GROUP;
    GenericKubernetesResource crd =
        call(
            new Request(
                "get",
                "customresourcedefinitions",
                "apiextensions.k8s.io",
                null,
                "CustomResourceDefinition " + crdName),
            () -> client.genericKubernetesResources(CRDS).withName(crdName).get());
    Optional<JsonNode> schema =
        crd == null
            ? Optional.empty()
            : CrdSchemas.schemaOf(toJson(crd), served.context().getVersion());
    if (schema.isEmpty()) {
      LOG.warn(
          "no schema for {} in CustomResourceDefinition {}: treating every optional field as"
              + " unsupported",
          served.apiVersion(),
          crdName);
    }
    schemas.put(
        served.kind(),
        new CachedSchema(served.apiVersion(), schema, now + settings.schemaCacheTtl().toNanos()));
    return schema;
  }

  /**
   * The one read path: the informer's cache (with what our own last PATCH returned laid over an
   * older cached object); on a miss, one GET, because the informer may not have delivered a route
   * created moments ago. Only that GET's 404 makes a route missing.
   */
  @Override
  public Optional<ObservedRoute> get(RouteId id) {
    Objects.requireNonNull(id, "id");
    Optional<RouteCache> found = informers.cacheFor(id.kind(), id.namespace());
    if (found.isEmpty()) {
      return Optional.empty();
    }
    RouteCache cache = found.get();
    Optional<GenericKubernetesResource> cached = cache.get(id.namespace(), id.name());
    if (cached.isPresent()) {
      return Optional.of(observe(cache, cached.get()));
    }
    GenericKubernetesResource fresh = read(cache, id);
    if (fresh == null) {
      return Optional.empty();
    }
    cache.remember(fresh);
    return Optional.of(observe(cache, fresh));
  }

  @Override
  public List<ObservedRoute> select(
      RouteKind kind, String namespace, Map<String, String> matchLabels) {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(matchLabels, "matchLabels");
    return informers
        .cacheFor(kind, namespace)
        .map(
            cache ->
                cache.list(namespace).stream()
                    .filter(r -> hasLabels(r, matchLabels))
                    .map(r -> observe(cache, r))
                    .toList())
        .orElse(List.of());
  }

  @Override
  public List<ObservedRoute> listAllNamespaces(RouteKind kind) {
    Objects.requireNonNull(kind, "kind");
    if (settings.scope() != InformerScope.CLUSTER) {
      throw new InvalidConfigException(
          "cannot list "
              + kind.kind()
              + "s in all namespaces with the namespace informer scope (it works with namespaced"
              + " Roles only): name the namespaces to look in, or use the cluster scope");
    }
    return informers
        .cacheFor(kind, "")
        .map(cache -> cache.listAll().stream().map(r -> observe(cache, r)).toList())
        .orElse(List.of());
  }

  /** Reads the Rollout with a GET (argoproj.io/v1alpha1; needs get on rollouts). */
  @Override
  public Optional<Rollout> find(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    GenericKubernetesResource r =
        call(
            new Request(
                "get", "rollouts", "argoproj.io", namespace, "Rollout " + namespace + "/" + name),
            () ->
                client
                    .genericKubernetesResources(ROLLOUTS)
                    .inNamespace(namespace)
                    .withName(name)
                    .get());
    if (r == null) {
      return Optional.empty();
    }
    ObjectMeta meta = r.getMetadata();
    return Optional.of(
        new Rollout(
            namespace,
            name,
            meta.getUid() == null ? "" : meta.getUid(),
            meta.getGeneration() == null ? 0 : meta.getGeneration(),
            meta.getResourceVersion() == null ? "" : meta.getResourceVersion(),
            toJson(r)));
  }

  @Override
  public ObservedRoute patch(RouteId id, Function<ObservedRoute, List<JsonNode>> planner) {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(planner, "planner");
    RouteCache cache =
        informers.cacheFor(id.kind(), id.namespace()).orElseThrow(() -> kindNotServed(id));
    Request patchRequest = routeRequest("patch", cache, id);
    // Built from the route's address, not withName(): see ResourceAddress.
    Resource<GenericKubernetesResource> resource =
        client
            .genericKubernetesResources(cache.served().context())
            .inNamespace(id.namespace())
            .resource(
                ResourceAddress.of(
                    cache.served().apiVersion(), id.kind().kind(), id.namespace(), id.name()));
    // The cache is complete after its first list, so a miss means the route is new (the informer
    // may lag) or absent: one GET tells which.
    GenericKubernetesResource current =
        cache.get(id.namespace(), id.name()).orElseGet(() -> fetch(cache, id));
    long deadline = System.nanoTime() + settings.patchRetryBudget().toNanos();
    for (int attempt = 1; ; attempt++) {
      ObservedRoute observed = observe(cache, current);
      List<JsonNode> ops = planner.apply(observed);
      if (ops == null || ops.isEmpty()) {
        return observed;
      }
      String body = patchBody(current, ops);
      try {
        GenericKubernetesResource patched = LeanStore.lean(resource.patch(PATCH, body));
        cache.remember(patched);
        return observe(cache, patched);
      } catch (KubernetesClientException e) {
        if (!KubernetesErrors.isPreconditionFailure(e)) {
          throw KubernetesErrors.translate(e, patchRequest);
        }
        long backoffNanos = backoffNanos(attempt);
        // The budget bounds retries, never the first one: a slow first attempt (a saturated API
        // server) must not leave a conflict without the re-read and second try it calls for.
        if (attempt >= settings.maxPatchAttempts()
            || (attempt > 1 && System.nanoTime() + backoffNanos > deadline)) {
          throw new ConflictException(
              id
                  + " changed under every write (its resourceVersion or a field the engine"
                  + " guards): gave up after "
                  + attempt
                  + " attempt(s) within "
                  + settings.patchRetryBudget()
                  + ". Another controller is writing the same route (Argo CD self-heal, a second"
                  + " Rollout or plugin on the same route?): make it ignore the backendRef weights"
                  + " or stop it; Argo will retry.",
              e);
        }
        LOG.debug("{} changed under us (attempt {}), planning again", id, attempt);
        sleep(backoffNanos, id);
        current = fetch(cache, id);
        cache.remember(current);
      }
    }
  }

  @Override
  public Optional<JsonNode> service(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    String key = namespace + "/" + name;
    long now = System.nanoTime();
    CachedService cached = services.get(key);
    if (cached != null && now - cached.expiresAtNanos() < 0) {
      return Optional.of(cached.json().deepCopy());
    }
    GenericKubernetesResource svc =
        call(
            new Request("get", "services", "", namespace, "Service " + key),
            () ->
                client
                    .genericKubernetesResources(SERVICES)
                    .inNamespace(namespace)
                    .withName(name)
                    .get());
    if (svc == null) {
      // Absence is not cached: a Service created a moment later must be seen at once.
      services.remove(key);
      return Optional.empty();
    }
    JsonNode svcJson = toJson(svc);
    if (services.size() >= MAX_CACHED_SERVICES) {
      services.values().removeIf(s -> now - s.expiresAtNanos() >= 0);
      if (services.size() >= MAX_CACHED_SERVICES) {
        services.clear();
      }
    }
    services.put(key, new CachedService(svcJson, now + settings.serviceCacheTtl().toNanos()));
    return Optional.of(svcJson.deepCopy());
  }

  @Override
  public AutoCloseable watch(RouteId id, Consumer<ObservedRoute> listener) {
    return informers.watch(id, listener, () -> kindNotServed(id));
  }

  /** Which informers run now (tests; see {@link RouteInformers#running()}). */
  Set<RouteInformers.CacheKey> runningInformers() {
    return informers.running();
  }

  /** Stops every informer and listener; the fabric8 client stays open (its owner closes it). */
  @Override
  public void close() {
    informers.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Requests and errors

  /** One GET of the route; null when the API server says it does not exist. */
  private GenericKubernetesResource read(RouteCache cache, RouteId id) {
    return call(
        routeRequest("get", cache, id),
        () ->
            LeanStore.lean(
                client
                    .genericKubernetesResources(cache.served().context())
                    .inNamespace(id.namespace())
                    .withName(id.name())
                    .get()));
  }

  private GenericKubernetesResource fetch(RouteCache cache, RouteId id) {
    GenericKubernetesResource fresh = read(cache, id);
    if (fresh == null) {
      throw new NotFoundException(id + " not found: create it or fix the Rollout's plugin config");
    }
    return fresh;
  }

  private static <T> T call(Request request, Supplier<T> send) {
    try {
      return send.get();
    } catch (KubernetesClientException e) {
      throw KubernetesErrors.translate(e, request);
    }
  }

  private static Request routeRequest(String verb, RouteCache cache, RouteId id) {
    return new Request(
        verb, cache.served().context().getPlural(), RouteKind.GROUP, id.namespace(), id.toString());
  }

  private NotFoundException kindNotServed(RouteId id) {
    return new NotFoundException(
        id
            + " cannot exist: the cluster serves no "
            + id.kind().kind()
            + " version of "
            + RouteKind.GROUP
            + ". Install the Gateway API CRDs"
            + (id.kind() == RouteKind.TCP
                    || id.kind() == RouteKind.TLS
                    || id.kind() == RouteKind.UDP
                ? " (experimental channel for " + id.kind().kind() + ")"
                : "")
            + "; Weighbridge looks again at most every "
            + settings.rediscoveryInterval());
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private String patchBody(GenericKubernetesResource current, List<JsonNode> ops) {
    ArrayNode patch = JsonNodeFactory.instance.arrayNode();
    patch
        .addObject()
        .put("op", "test")
        .put("path", "/metadata/resourceVersion")
        .put("value", current.getMetadata().getResourceVersion());
    for (JsonNode op : ops) {
      if (op == null || !op.isObject() || !op.path("op").isTextual() || !op.has("path")) {
        throw new IllegalArgumentException(
            "the planner returned an invalid JSON patch operation: " + op);
      }
      patch.add(op);
    }
    try {
      return json.writeValueAsString(patch);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the planner's patch cannot be written as JSON", e);
    }
  }

  private ObservedRoute observe(RouteCache cache, GenericKubernetesResource r) {
    return observe(cache.served().kind(), r);
  }

  private ObservedRoute observe(RouteKind kind, GenericKubernetesResource r) {
    return observed.observe(kind, r, fresh -> convert(kind, fresh));
  }

  private ObservedRoute convert(RouteKind kind, GenericKubernetesResource r) {
    ObjectMeta meta = r.getMetadata();
    return new ObservedRoute(
        new RouteId(kind, meta.getNamespace(), meta.getName()),
        r.getApiVersion(),
        meta.getGeneration() == null ? 0 : meta.getGeneration(),
        meta.getResourceVersion(),
        toJson(r));
  }

  private JsonNode toJson(GenericKubernetesResource r) {
    try {
      return json.readTree(serialization.asJson(r));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("fabric8 produced JSON that Jackson cannot read", e);
    }
  }

  private static boolean hasLabels(GenericKubernetesResource r, Map<String, String> matchLabels) {
    Map<String, String> labels = r.getMetadata().getLabels();
    if (matchLabels.isEmpty()) {
      return true;
    }
    if (labels == null) {
      return false;
    }
    return matchLabels.entrySet().stream()
        .allMatch(e -> Objects.equals(labels.get(e.getKey()), e.getValue()));
  }

  /** 20 ms doubling to at most 320 ms, each with +-50% jitter so two writers do not lock-step. */
  private static long backoffNanos(int attempt) {
    long base = TimeUnit.MILLISECONDS.toNanos(20L << Math.min(attempt - 1, 4));
    return base / 2 + ThreadLocalRandom.current().nextLong(base);
  }

  private static void sleep(long nanos, RouteId id) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnavailableException("interrupted while retrying the patch of " + id, e);
    }
  }
}
