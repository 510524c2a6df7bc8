package io.weighbridge.domain.routing;

import java.util.Objects;

/**
 * Names one route object.
 *
 * @param kind the route kind
 * @param namespace its namespace
 * @param name its name
 */
public record RouteId(RouteKind kind, String namespace, String name) {

  /** Validates the parts. */
  public RouteId {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
  }

  /** {@code HTTPRoute ns/name}, as used in messages. */
  @Override
  public String toString() {
    return kind.kind() + " " + namespace + "/" + name;
  }
}
