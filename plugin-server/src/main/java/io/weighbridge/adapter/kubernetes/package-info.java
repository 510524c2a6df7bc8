/**
 * The Kubernetes adapter: the routing engine's {@link io.weighbridge.domain.routing.RouteClient} on
 * the fabric8 client ({@link io.weighbridge.adapter.kubernetes.KubernetesRouteClient}) and the
 * factory of that client ({@link io.weighbridge.adapter.kubernetes.KubernetesClients}).
 *
 * <p>RBAC the plugin-server's ServiceAccount needs (discovery of API groups is allowed to every
 * authenticated user by Kubernetes' default {@code system:discovery} role):
 *
 * <ul>
 *   <li>{@code gateway.networking.k8s.io}: {@code httproutes, grpcroutes, tcproutes, tlsroutes,
 *       udproutes}: {@code get, list, watch, patch}. With the default informer scope {@code
 *       CLUSTER} this must be a ClusterRole (list/watch in all namespaces); with {@code NAMESPACE}
 *       a Role in each namespace that holds routes is enough.
 *   <li>core {@code services}: {@code get} in the namespaces of the Rollouts' Services.
 *   <li>{@code apiextensions.k8s.io} {@code customresourcedefinitions}: {@code get} (may be
 *       restricted with resourceNames to {@code httproutes.gateway.networking.k8s.io} and the other
 *       three route CRDs), to learn which optional fields the served schema keeps.
 *   <li>{@code authentication.k8s.io} {@code tokenreviews}: {@code create} (cluster-scoped), for
 *       {@code --auth-mode=tokenreview} ({@link
 *       io.weighbridge.adapter.kubernetes.TokenReviewAuthenticator}).
 * </ul>
 *
 * <p>A missing permission is reported as a {@link io.weighbridge.domain.RejectedException} naming
 * the verb and resource to grant.
 */
package io.weighbridge.adapter.kubernetes;
