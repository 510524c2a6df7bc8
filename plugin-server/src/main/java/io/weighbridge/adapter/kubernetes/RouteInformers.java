package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.ExceptionHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.weighbridge.adapter.kubernetes.KubernetesRouteClient.InformerScope;
import io.weighbridge.domain.UnavailableException;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.routing.ObservedRoute;
import io.weighbridge.domain.routing.RouteId;
import io.weighbridge.domain.routing.RouteKind;
import java.time.Duration;
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
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The route informers: one per route kind in use (all namespaces, or one per kind and namespace,
 * see {@link InformerScope}), started at first use and waited for until their first list is in;
 * restarted on next use after they stopped; and the per-route change subscriptions the drift guard
 * listens to, delivered in order on virtual threads, never on an informer's thread.
 */
final class RouteInformers implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RouteInformers.class);

  /** Identifies one informer: a kind in all namespaces ({@code namespace == ""}) or in one. */
  record CacheKey(RouteKind kind, String namespace) {}

  private final KubernetesClient client;
  private final RouteApiDiscovery discovery;
  private final InformerScope scope;
  private final Duration initialSyncTimeout;
  private final BiFunction<RouteKind, GenericKubernetesResource, ObservedRoute> observe;
  private final Map<CacheKey, RouteCache> caches = new ConcurrentHashMap<>();
  private final Map<RouteId, Set<Subscription>> subscriptions = new ConcurrentHashMap<>();
  private final ExecutorService listenerExecutor;
  private volatile boolean closed;

  RouteInformers(
      KubernetesClient client,
      RouteApiDiscovery discovery,
      InformerScope scope,
      Duration initialSyncTimeout,
      BiFunction<RouteKind, GenericKubernetesResource, ObservedRoute> observe) {
    this.client = client;
    this.discovery = discovery;
    this.scope = scope;
    this.initialSyncTimeout = initialSyncTimeout;
    this.observe = observe;
    this.listenerExecutor =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("weighbridge-route-watch-", 0).factory());
  }

  /**
   * Calls {@code listener} with every change of route {@code id} until the handle is closed.
   *
   * @param notServed the failure when the route's kind is not served
   */
  AutoCloseable watch(
      RouteId id, Consumer<ObservedRoute> listener, Supplier<WeighbridgeException> notServed) {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(listener, "listener");
    cacheFor(id.kind(), id.namespace()).orElseThrow(notServed);
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

  /** The synced cache for {@code kind} covering {@code namespace}; empty when not served. */
  Optional<RouteCache> cacheFor(RouteKind kind, String namespace) {
    if (closed) {
      throw new IllegalStateException("the route informers are closed");
    }
    Optional<RouteApiDiscovery.Served> served = discovery.resolve(kind);
    if (served.isEmpty()) {
      return Optional.empty();
    }
    CacheKey key = new CacheKey(kind, scope == InformerScope.CLUSTER ? "" : namespace);
    RouteCache cache = caches.computeIfAbsent(key, k -> startCache(k, served.get()));
    try {
      cache.awaitSync(initialSyncTimeout);
      return Optional.of(cache);
    } catch (TimeoutException e) {
      drop(key, cache);
      throw new UnavailableException(
          "the first list of "
              + cache.served().context().getPlural()
              + " ("
              + cache.served().apiVersion()
              + ") did not finish within "
              + initialSyncTimeout
              + ": check that the Kubernetes API server is healthy and reachable from the"
              + " plugin-server; the next call tries again",
          e);
    } catch (ExecutionException e) {
      drop(key, cache);
      Throwable cause = e.getCause();
      if (cause instanceof KubernetesClientException kce) {
        throw KubernetesErrors.translate(
            kce,
            new KubernetesErrors.Request(
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
    informer.itemStore(new LeanStore());
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
          ObservedRoute observed = observe.apply(id.kind(), next);
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

  /**
   * Which informers run now. Package-private for tests: fabric8's mock server can stall its
   * shutdown when a watch is closed while it is still sending, so tests let each watch deliver a
   * last event before closing (see KubernetesRouteClientTest#drainWatches).
   */
  Set<CacheKey> running() {
    return Set.copyOf(caches.keySet());
  }

  /** Stops every informer and listener. */
  @Override
  public void close() {
    closed = true;
    caches.values().forEach(RouteCache::close);
    caches.clear();
    subscriptions.values().forEach(set -> set.forEach(Subscription::close));
    listenerExecutor.shutdownNow();
  }
}
