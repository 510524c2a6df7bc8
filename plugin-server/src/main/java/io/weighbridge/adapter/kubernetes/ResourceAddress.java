package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;

/**
 * An object's address (apiVersion, kind, namespace, name) as a resource to write to. fabric8's
 * patch on a resource built {@code withName()} GETs the object first ({@code
 * getItemOrRequireFromServer}), a request per write for nothing; one built {@code resource(item)}
 * from this address does not.
 */
final class ResourceAddress {
  private ResourceAddress() {}

  /** The address of {@code namespace/name}, a {@code kind} of {@code apiVersion}. */
  static GenericKubernetesResource of(
      String apiVersion, String kind, String namespace, String name) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion(apiVersion);
    r.setKind(kind);
    ObjectMeta meta = new ObjectMeta();
    meta.setNamespace(namespace);
    meta.setName(name);
    r.setMetadata(meta);
    return r;
  }
}
