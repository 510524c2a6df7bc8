package io.weighbridge.domain;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * The Argo Rollouts Rollout a call is about, as Argo sent it.
 *
 * @param namespace metadata.namespace
 * @param name metadata.name
 * @param uid metadata.uid
 * @param generation metadata.generation
 * @param resourceVersion metadata.resourceVersion as Argo saw it
 * @param json the whole object as Kubernetes JSON; treat as read-only
 */
public record Rollout(
    String namespace,
    String name,
    String uid,
    long generation,
    String resourceVersion,
    JsonNode json) {

  /** Validates the required parts. */
  public Rollout {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(json, "json");
  }

  /** {@code namespace/name}, for messages and logs. */
  public String key() {
    return namespace + "/" + name;
  }
}
