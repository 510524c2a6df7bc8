package io.weighbridge.domain.routing;

import io.weighbridge.testkit.WithKubeApiServer;

/** {@link RouteKindMatrix} on the Gateway API v1.0.0-experimental CRDs. */
@WithKubeApiServer(gatewayApi = "v1.0.0-experimental")
class RouteKindMatrixV100IT extends RouteKindMatrix {}
