package io.weighbridge.domain.routing;

import io.weighbridge.testkit.WithKubeApiServer;

/** {@link RouteKindMatrix} on the Gateway API v1.2.1-experimental CRDs. */
@WithKubeApiServer(gatewayApi = "v1.2.1-experimental")
class RouteKindMatrixV121IT extends RouteKindMatrix {}
