package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One informer's view of one route kind (in all namespaces or in one), plus the objects our own
 * patches returned that the informer has not delivered yet. Without that overlay a {@code get}
 * right after a {@code patch} could return the old object and make the engine plan against it.
 */
final class RouteCache implements ResourceEventHandler<GenericKubernetesResource>, AutoCloseable {

  /** How long an overlay entry may outlive its informer event when versions cannot be ordered. */
  private static final long OVERLAY_MAX_AGE_NANOS = Duration.ofMinutes(1).toNanos();

  private record Written(GenericKubernetesResource resource, long atNanos) {}

  private final RouteApiDiscovery.Served served;
  private final String namespace;
  private final SharedIndexInformer<GenericKubernetesResource> informer;
  private final Consumer<GenericKubernetesResource> onChange;
  private final LongSupplier nanoTime;
  private final Map<String, Written> written = new ConcurrentHashMap<>();
  private CompletableFuture<Void> synced;

  /**
   * Wraps a not yet started informer.
   *
   * @param namespace the informer's namespace, or null when it watches all namespaces
   * @param onChange called on the informer's thread for every added or changed object; must not
   *     block
   */
  RouteCache(
      RouteApiDiscovery.Served served,
      String namespace,
      SharedIndexInformer<GenericKubernetesResource> informer,
      Consumer<GenericKubernetesResource> onChange,
      LongSupplier nanoTime) {
    this.served = served;
    this.namespace = namespace;
    this.informer = informer;
    this.onChange = onChange;
    this.nanoTime = nanoTime;
  }

  /** Registers the handler and starts the informer without waiting. */
  RouteCache start() {
    informer.addEventHandler(this);
    synced = informer.start().toCompletableFuture();
    return this;
  }

  RouteApiDiscovery.Served served() {
    return served;
  }

  /**
   * Waits until the informer's first list is in the cache.
   *
   * @throws TimeoutException when that takes longer than {@code timeout}
   * @throws ExecutionException when the list failed (the cause says why)
   */
  void awaitSync(Duration timeout)
      throws TimeoutException, ExecutionException, InterruptedException {
    synced.get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  /** The freshest known version of {@code namespace/name}. */
  Optional<GenericKubernetesResource> get(String namespace, String name) {
    String key = Cache.namespaceKeyFunc(namespace, name);
    return Optional.ofNullable(freshest(informer.getStore().getByKey(key), key));
  }

  /** The freshest known versions of every object in {@code namespace}, sorted by name. */
  List<GenericKubernetesResource> list(String namespace) {
    return freshest(
        this.namespace == null
            ? informer.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace)
            : informer.getStore().list());
  }

  /** The freshest known versions of every object this cache holds, sorted by name. */
  List<GenericKubernetesResource> listAll() {
    return freshest(informer.getStore().list());
  }

  private List<GenericKubernetesResource> freshest(List<GenericKubernetesResource> cached) {
    Map<String, GenericKubernetesResource> result = new LinkedHashMap<>();
    for (GenericKubernetesResource r : cached) {
      String key = Cache.metaNamespaceKeyFunc(r);
      result.put(key, freshest(r, key));
    }
    List<GenericKubernetesResource> sorted = new ArrayList<>(result.values());
    sorted.sort(Comparator.comparing(r -> r.getMetadata().getName()));
    return sorted;
  }

  /** Remembers an object the API server returned to us, until the informer catches up. */
  void remember(GenericKubernetesResource resource) {
    written.put(Cache.metaNamespaceKeyFunc(resource), new Written(resource, nanoTime.getAsLong()));
  }

  @Override
  public void onAdd(GenericKubernetesResource obj) {
    caughtUp(obj);
    onChange.accept(obj);
  }

  @Override
  public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
    caughtUp(newObj);
    if (!Objects.equals(
        oldObj.getMetadata().getResourceVersion(), newObj.getMetadata().getResourceVersion())) {
      onChange.accept(newObj);
    }
  }

  @Override
  public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
    written.remove(Cache.metaNamespaceKeyFunc(obj));
  }

  /** Stops the informer. */
  @Override
  public void close() {
    informer.stop();
  }

  private void caughtUp(GenericKubernetesResource obj) {
    written.computeIfPresent(
        Cache.metaNamespaceKeyFunc(obj), (k, w) -> isAtLeast(obj, w) ? null : w);
  }

  private GenericKubernetesResource freshest(GenericKubernetesResource cached, String key) {
    Written w = written.get(key);
    if (w == null) {
      return cached;
    }
    if (cached != null && isAtLeast(cached, w)) {
      written.remove(key, w);
      return cached;
    }
    return w.resource();
  }

  /**
   * Whether the informer's object is at least as new as what we wrote. Resource versions are opaque
   * by contract, but every real API server uses etcd revisions, which are numbers; when they are
   * not, only equality counts and the overlay expires after a minute.
   */
  private boolean isAtLeast(GenericKubernetesResource cached, Written w) {
    String have = cached.getMetadata().getResourceVersion();
    String wrote = w.resource().getMetadata().getResourceVersion();
    if (Objects.equals(have, wrote)) {
      return true;
    }
    try {
      return Long.parseLong(have) >= Long.parseLong(wrote);
    } catch (NumberFormatException e) {
      return nanoTime.getAsLong() - w.atNanos() > OVERLAY_MAX_AGE_NANOS;
    }
  }
}
