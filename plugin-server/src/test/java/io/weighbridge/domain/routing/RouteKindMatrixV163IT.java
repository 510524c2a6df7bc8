package io.weighbridge.domain.routing;

import io.weighbridge.testkit.WithKubeApiServer;

/** {@link RouteKindMatrix} on the Gateway API v1.6.3-standard CRDs. */
@WithKubeApiServer(gatewayApi = "v1.6.3-standard")
class RouteKindMatrixV163IT extends RouteKindMatrix {}
