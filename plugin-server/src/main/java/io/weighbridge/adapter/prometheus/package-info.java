/**
 * Prometheus HTTP API client: the production {@link io.weighbridge.domain.analysis.MetricsSource}.
 */
package io.weighbridge.adapter.prometheus;
