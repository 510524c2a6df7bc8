package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;

/**
 * The informers' store (routes, and the analyzer's Rollouts): fabric8's own store, keyed as fabric8
 * keys it, that drops {@code metadata.managedFields} from every object as it enters. Nothing here
 * reads them (the server-side-apply bookkeeping of who owns which field), yet they are often a
 * third or more of an object's JSON: every cached route and Rollout, every conversion into the
 * domain's tree and every memoized {@code ObservedRoute} carried them. Routes the route client
 * reads or writes itself go through {@link #lean} too, so that a route looks the same whichever way
 * it arrived. The API server keeps them; writes are JSON patches of other paths, so nothing is
 * lost.
 */
final class LeanStore extends BasicItemStore<GenericKubernetesResource> {

  LeanStore() {
    super(Cache::metaNamespaceKeyFunc);
  }

  @Override
  public GenericKubernetesResource put(String key, GenericKubernetesResource resource) {
    return super.put(key, lean(resource));
  }

  /** The same object without its managedFields (null passes through). */
  static GenericKubernetesResource lean(GenericKubernetesResource resource) {
    ObjectMeta meta = resource == null ? null : resource.getMetadata();
    if (meta != null && meta.getManagedFields() != null) {
      meta.setManagedFields(null);
    }
    return resource;
  }
}
