package io.weighbridge.adapter.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import io.weighbridge.domain.ConflictException;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.RejectedException;
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
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
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
 *   <li>Every failure becomes a {@link WeighbridgeException} in {@link #translate}.
 * </ul>
 *
 * <p>Services are read with a GET and kept for a short time instead of an informer: the engine
 * needs few of them, while an informer would hold every Service of the cluster and need list/watch
 * on Services in all namespaces.
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

  /** kube-apiserver's whole message when a JSON patch {@code test} operation fails. */
  private static final String TEST_FAILED =
      "the server rejected our request due to an error in our request";

  private static final int MAX_CACHED_SERVICES = 1024;
  private static final Pattern RBAC_DENIAL = Pattern.compile("cannot [a-z]+ resource \"");

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

  /** Identifies one informer: a kind in all namespaces ({@code namespace == ""}) or in one. */
  record CacheKey(RouteKind kind, String namespace) {}

  /** What an API request was about, for error messages. */
  private record Request(
      String verb, String resource, String group, String namespace, String subject) {}

  private record CachedService(JsonNode json, long expiresAtNanos) {}

  private record CachedSchema(String apiVersion, Optional<JsonNode> schema, long expiresAtNanos) {}

  private final KubernetesClient client;
  private final Settings settings;
  private final ApiCallRecorder recorder;
  private final KubernetesSerialization serialization;
  // fabric8 8 serializes with Jackson 3; the domain speaks Jackson 2 JsonNode. JSON text bridges
  // the two exactly (a route is a few KB).
  private final ObjectMapper json = new ObjectMapper();
  private final RouteApiDiscovery discovery;
  private final Map<CacheKey, RouteCache> caches = new ConcurrentHashMap<>();
  private final Map<RouteId, Set<Subscription>> subscriptions = new ConcurrentHashMap<>();
  private final Map<String, CachedService> services = new ConcurrentHashMap<>();
  private final Map<RouteKind, CachedSchema> schemas = new ConcurrentHashMap<>();
  private final ExecutorService listenerExecutor;
  private volatile boolean closed;

  /**
   * Creates the adapter; it starts nothing until first used.
   *
   * @param client the fabric8 client (the caller owns and closes it)
   * @param settings caching and retry bounds
   * @param recorder learns of every request sent outside the informers
   */
  public KubernetesRouteClient(
      KubernetesClient client, Settings settings, ApiCallRecorder recorder) {
    this.client = Objects.requireNonNull(client, "client");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.recorder = Objects.requireNonNull(recorder, "recorder");
    this.serialization = client.getKubernetesSerialization();
    this.discovery =
        new RouteApiDiscovery(
            new RouteApiDiscovery.Source() {
              @Override
              public Optional<List<String>> versions(String group) {
                var apiGroup =
                    call(
                        Verb.GET,
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
                        Verb.GET,
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
    this.listenerExecutor =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("weighbridge-route-watch-", 0).factory());
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
            Verb.GET,
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

  @Override
  public Optional<ObservedRoute> get(RouteId id) {
    Objects.requireNonNull(id, "id");
    return cacheFor(id.kind(), id.namespace())
        .flatMap(cache -> cache.get(id.namespace(), id.name()).map(r -> observe(cache, r)));
  }

  @Override
  public List<ObservedRoute> select(
      RouteKind kind, String namespace, Map<String, String> matchLabels) {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(matchLabels, "matchLabels");
    return cacheFor(kind, namespace)
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
    return cacheFor(kind, "")
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
            Verb.GET,
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
    RouteCache cache = cacheFor(id.kind(), id.namespace()).orElseThrow(() -> kindNotServed(id));
    Request patchRequest = routeRequest("patch", cache, id);
    Resource<GenericKubernetesResource> resource =
        routes(cache).inNamespace(id.namespace()).withName(id.name());
    // The cache is complete after its first list, so a miss means the route is new (the informer
    // may lag) or absent: one GET tells which.
    GenericKubernetesResource current =
        cache.get(id.namespace(), id.name()).orElseGet(() -> fetch(cache, id, resource));
    long deadline = System.nanoTime() + settings.patchRetryBudget().toNanos();
    for (int attempt = 1; ; attempt++) {
      ObservedRoute observed = observe(cache, current);
      List<JsonNode> ops = planner.apply(observed);
      if (ops == null || ops.isEmpty()) {
        return observed;
      }
      String body = patchBody(current, ops);
      try {
        recorder.record(Verb.PATCH, cache.served().context().getPlural());
        GenericKubernetesResource patched = resource.patch(PATCH, body);
        cache.remember(patched);
        return observe(cache, patched);
      } catch (KubernetesClientException e) {
        if (!isPreconditionFailure(e)) {
          throw translate(e, patchRequest);
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
        current = fetch(cache, id, resource);
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
            Verb.GET,
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
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(listener, "listener");
    cacheFor(id.kind(), id.namespace()).orElseThrow(() -> kindNotServed(id));
    Subscription subscription = new Subscription(id, listener);
    subscriptions.computeIfAbsent(id, k -> new CopyOnWriteArraySet<>()).add(subscription);
    return subscription;
  }

  /**
   * Which informers run now. Package-private for tests: fabric8's mock server can stall its
   * shutdown when a watch is closed while it is still sending, so tests let each watch deliver a
   * last event before closing (see KubernetesRouteClientTest#drainWatches).
   */
  Set<CacheKey> runningInformers() {
    return Set.copyOf(caches.keySet());
  }

  /** Stops every informer and listener; the fabric8 client stays open (its owner closes it). */
  @Override
  public void close() {
    closed = true;
    caches.values().forEach(RouteCache::close);
    caches.clear();
    subscriptions.values().forEach(set -> set.forEach(Subscription::close));
    listenerExecutor.shutdownNow();
  }

  // ---------------------------------------------------------------------------------------------
  // Informers

  /** The synced cache for {@code kind} covering {@code namespace}; empty when not served. */
  private Optional<RouteCache> cacheFor(RouteKind kind, String namespace) {
    if (closed) {
      throw new IllegalStateException("KubernetesRouteClient is closed");
    }
    Optional<RouteApiDiscovery.Served> served = discovery.resolve(kind);
    if (served.isEmpty()) {
      return Optional.empty();
    }
    CacheKey key = new CacheKey(kind, settings.scope() == InformerScope.CLUSTER ? "" : namespace);
    RouteCache cache = caches.computeIfAbsent(key, k -> startCache(k, served.get()));
    try {
      cache.awaitSync(settings.initialSyncTimeout());
      return Optional.of(cache);
    } catch (TimeoutException e) {
      drop(key, cache);
      throw new UnavailableException(
          "the first list of "
              + cache.served().context().getPlural()
              + " ("
              + cache.served().apiVersion()
              + ") did not finish within "
              + settings.initialSyncTimeout()
              + ": check that the Kubernetes API server is healthy and reachable from the"
              + " plugin-server; the next call tries again",
          e);
    } catch (ExecutionException e) {
      drop(key, cache);
      Throwable cause = e.getCause();
      if (cause instanceof KubernetesClientException kce) {
        throw translate(
            kce,
            new Request(
                "list/watch",
                cache.served().context().getPlural(),
                RouteKind.GROUP,
                key.namespace().isEmpty() ? null : key.namespace(),
                kind.kind() + "s"));
      }
      throw new UnavailableException(
          "could not list " + kind.kind() + "s: " + cause + "; the next call tries again", cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UnavailableException("interrupted while waiting for the " + kind.kind() + " cache");
    }
  }

  private RouteCache startCache(CacheKey key, RouteApiDiscovery.Served served) {
    MixedOperation<
            GenericKubernetesResource,
            io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
            Resource<GenericKubernetesResource>>
        op = client.genericKubernetesResources(served.context());
    SharedIndexInformer<GenericKubernetesResource> informer =
        key.namespace().isEmpty()
            ? op.inAnyNamespace().runnableInformer(0)
            : op.inNamespace(key.namespace()).runnableInformer(0);
    // Before the first list succeeds, fail fast and let the caller see why; after it, keep
    // retrying (network blips, API server restarts) unless the resource is gone (CRD removed or
    // version no longer served) or objects cannot be read at all.
    informer.exceptionHandler(
        (started, t) -> started && !isGone(t) && !ExceptionHandler.isDeserializationException(t));
    RouteCache cache =
        new RouteCache(
            served,
            key.namespace().isEmpty() ? null : key.namespace(),
            informer,
            r -> dispatch(key.kind(), r),
            System::nanoTime);
    informer
        .stopped()
        .whenComplete(
            (ignored, failure) -> {
              if (failure != null && !closed) {
                LOG.warn(
                    "the {} informer stopped: {}; it restarts on next use",
                    served.apiVersion() + " " + key.kind().kind(),
                    failure.toString());
                caches.remove(key, cache);
                if (isGone(failure)) {
                  discovery.forget(key.kind());
                }
              }
            });
    LOG.info(
        "starting the {} informer ({})",
        served.apiVersion() + " " + key.kind().kind(),
        key.namespace().isEmpty() ? "all namespaces" : "namespace " + key.namespace());
    return cache.start();
  }

  private void drop(CacheKey key, RouteCache cache) {
    if (caches.remove(key, cache)) {
      cache.close();
    }
  }

  private static boolean isGone(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof KubernetesClientException kce && kce.getCode() == 404) {
        return true;
      }
    }
    return false;
  }

  private MixedOperation<
          GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      routes(RouteCache cache) {
    return client.genericKubernetesResources(cache.served().context());
  }

  // ---------------------------------------------------------------------------------------------
  // Watch

  private void dispatch(RouteKind kind, GenericKubernetesResource resource) {
    if (subscriptions.isEmpty()) {
      return;
    }
    ObjectMeta meta = resource.getMetadata();
    Set<Subscription> subs =
        subscriptions.get(new RouteId(kind, meta.getNamespace(), meta.getName()));
    if (subs != null) {
      subs.forEach(s -> s.offer(resource));
    }
  }

  /**
   * Delivers a route's changes to one listener in order, on the listener executor, never on the
   * informer's thread. A slow listener gets the newest state, not a backlog.
   */
  private final class Subscription implements AutoCloseable {
    private final RouteId id;
    private final Consumer<ObservedRoute> listener;
    private final AtomicReference<GenericKubernetesResource> pending = new AtomicReference<>();
    private final AtomicBoolean draining = new AtomicBoolean();
    private volatile boolean closedSub;

    Subscription(RouteId id, Consumer<ObservedRoute> listener) {
      this.id = id;
      this.listener = listener;
    }

    void offer(GenericKubernetesResource resource) {
      if (closedSub) {
        return;
      }
      pending.set(resource);
      schedule();
    }

    private void schedule() {
      if (draining.compareAndSet(false, true)) {
        try {
          listenerExecutor.execute(this::drain);
        } catch (RejectedExecutionException e) {
          draining.set(false); // shutting down
        }
      }
    }

    private void drain() {
      try {
        GenericKubernetesResource next;
        while (!closedSub && (next = pending.getAndSet(null)) != null) {
          ObservedRoute observed = observe(id.kind(), next);
          try {
            listener.accept(observed);
          } catch (RuntimeException e) {
            LOG.warn("a listener of {} failed", id, e);
          }
        }
      } finally {
        draining.set(false);
        if (!closedSub && pending.get() != null) {
          schedule();
        }
      }
    }

    @Override
    public void close() {
      closedSub = true;
      pending.set(null);
      subscriptions.computeIfPresent(
          id,
          (k, set) -> {
            set.remove(this);
            return set.isEmpty() ? null : set;
          });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests and errors

  private GenericKubernetesResource fetch(
      RouteCache cache, RouteId id, Resource<GenericKubernetesResource> resource) {
    GenericKubernetesResource fresh = call(Verb.GET, routeRequest("get", cache, id), resource::get);
    if (fresh == null) {
      throw new NotFoundException(id + " not found: create it or fix the Rollout's plugin config");
    }
    return fresh;
  }

  private <T> T call(Verb verb, Request request, Supplier<T> send) {
    recorder.record(verb, request.resource());
    try {
      return send.get();
    } catch (KubernetesClientException e) {
      throw translate(e, request);
    }
  }

  private static Request routeRequest(String verb, RouteCache cache, RouteId id) {
    return new Request(
        verb, cache.served().context().getPlural(), RouteKind.GROUP, id.namespace(), id.toString());
  }

  /**
   * Whether a patch failed only because the object changed since the planner saw it: the server saw
   * a write conflict (409), or a {@code test} operation failed (ours on metadata.resourceVersion or
   * one of the planner's guards). For the latter kube-apiserver (seen on 1.34) answers 422 with
   * only its generic text {@value #TEST_FAILED}: no field, no object, no causes. Validation,
   * ValidatingAdmissionPolicy and webhook refusals always say what they refused, so they never
   * match. Older servers that put json-patch's own words ("testing value ... failed") in the
   * message are recognised too.
   */
  private static boolean isPreconditionFailure(KubernetesClientException e) {
    if (e.getCode() == 409) {
      return true;
    }
    if (e.getCode() != 422 || e.getStatus() == null) {
      return false;
    }
    String message = String.valueOf(e.getStatus().getMessage());
    String lower = message.toLowerCase(java.util.Locale.ROOT);
    return message.equals(TEST_FAILED)
        || (lower.contains("testing value") && lower.contains("failed"));
  }

  /** Maps every API failure to the domain's exceptions; the one place that does so. */
  private WeighbridgeException translate(KubernetesClientException e, Request r) {
    int code = e.getCode();
    String said = serverMessage(e);
    String where =
        r.namespace() == null ? "cluster-wide" : "in namespace \"" + r.namespace() + "\"";
    String qualified = r.group().isEmpty() ? r.resource() : r.resource() + "." + r.group();
    if (code == 404) {
      if (r.resource().equals("discovery")) {
        return new UnavailableException(
            r.subject() + " disappeared during discovery; the next call looks again", e);
      }
      if (r.verb().equals("list/watch")) {
        return new NotFoundException(
            "the cluster no longer serves "
                + qualified
                + ": install the Gateway API CRDs; the next call discovers again",
            e);
      }
      return new NotFoundException(
          r.subject()
              + " not found: "
              + (r.resource().equals("services")
                  ? "create it or fix the Rollout's Service names"
                  : "create it or fix the Rollout's plugin config"),
          e);
    }
    if (code == 401) {
      return new RejectedException(
          "the Kubernetes API server did not accept the plugin-server's credentials (401) when it"
              + " tried to "
              + r.verb()
              + " "
              + r.subject()
              + ": check the ServiceAccount token or the kubeconfig. API server said: "
              + said,
          e);
    }
    if (code == 403 && RBAC_DENIAL.matcher(said).find() && !said.contains("admission webhook")) {
      return new RejectedException(
          "the plugin-server's ServiceAccount may not "
              + r.verb()
              + " "
              + qualified
              + " "
              + where
              + ": grant the verb(s) "
              + r.verb()
              + " on "
              + qualified
              + " in its "
              + (r.namespace() == null ? "ClusterRole" : "Role or ClusterRole")
              + ". API server said: "
              + said,
          e);
    }
    if (code == 409) {
      return new ConflictException(
          r.subject()
              + " changed while Weighbridge wrote it; Argo will retry. API server said: "
              + said,
          e);
    }
    // fabric8 reports a failure without an HTTP answer (refused, reset, timed out) as code 0 or -1.
    if (code < 400 || code == 408 || code == 429 || code >= 500) {
      return new UnavailableException(
          "the Kubernetes API server could not "
              + r.verb()
              + " "
              + r.subject()
              + " right now ("
              + (code < 100 ? "no response" : "HTTP " + code)
              + "): "
              + said
              + ". Check the API server's health and the plugin-server's network; Argo will"
              + " retry.",
          e);
    }
    // 400, 403 from an admission webhook, 422 from validation and anything else the server
    // refused: its words verbatim, they name the field or the policy.
    return new RejectedException(
        "the Kubernetes API server refused to "
            + r.verb()
            + " "
            + r.subject()
            + " (HTTP "
            + code
            + "): "
            + said
            + ". Fix the route, or the admission webhook or policy that refused the change.",
        e);
  }

  /** The API server's own words (Status message and causes), else fabric8's message. */
  private static String serverMessage(KubernetesClientException e) {
    Status status = e.getStatus();
    if (status == null || status.getMessage() == null || status.getMessage().isBlank()) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      return root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root + ")";
    }
    StringBuilder text = new StringBuilder(status.getMessage());
    if (status.getDetails() != null && status.getDetails().getCauses() != null) {
      for (StatusCause cause : status.getDetails().getCauses()) {
        if (cause.getMessage() != null && !status.getMessage().contains(cause.getMessage())) {
          text.append("; ").append(cause.getMessage());
        }
      }
    }
    return text.toString();
  }

  private NotFoundException kindNotServed(RouteId id) {
    return new NotFoundException(
        id
            + " cannot exist: the cluster serves no "
            + id.kind().kind()
            + " version of "
            + RouteKind.GROUP
            + ". Install the Gateway API CRDs"
            + (id.kind() == RouteKind.TCP || id.kind() == RouteKind.TLS
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
