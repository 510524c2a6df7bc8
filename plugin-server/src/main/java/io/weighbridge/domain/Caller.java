package io.weighbridge.domain;

/**
 * The connector process that made a call.
 *
 * @param pluginName the plugin name the connector runs as, e.g. {@code weighbridge/gateway-api}
 * @param connectorVersion the connector's version string, for diagnostics
 */
public record Caller(String pluginName, String connectorVersion) {}
