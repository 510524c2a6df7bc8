package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A route object as last seen from the cluster.
 *
 * @param id which route
 * @param apiVersion the API version it was read (and must be written) with, e.g. {@code
 *     gateway.networking.k8s.io/v1beta1}
 * @param generation metadata.generation
 * @param resourceVersion metadata.resourceVersion
 * @param object the whole object (metadata, spec, status) as JSON, including fields unknown to any
 *     Java model; treat as read-only
 */
public record ObservedRoute(
    RouteId id, String apiVersion, long generation, String resourceVersion, JsonNode object) {}
