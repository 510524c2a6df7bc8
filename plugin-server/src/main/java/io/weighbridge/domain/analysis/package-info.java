/**
 * The canary analyzer's pure core: the {@code analysis} block of the plugin configuration, the
 * built-in Traefik and Linkerd queries, the statistics that compare canary with stable, and the
 * {@link io.weighbridge.domain.analysis.Verdict} they produce. No HTTP, no Kubernetes: metrics come
 * in through the {@link io.weighbridge.domain.analysis.MetricsSource} port.
 */
package io.weighbridge.domain.analysis;
