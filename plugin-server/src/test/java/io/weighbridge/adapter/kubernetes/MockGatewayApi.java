package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.api.model.APIGroupBuilder;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionForDiscovery;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes fabric8's CRUD mock server look like a cluster with some Gateway API versions installed:
 * discovery documents as fixed expectations, route objects stored by the CRUD dispatcher.
 */
final class MockGatewayApi {

  private final Map<String, List<String>> kindsByVersion = new LinkedHashMap<>();

  /** Serves {@code kinds} as {@code version}. */
  MockGatewayApi serve(String version, String... kinds) {
    kindsByVersion.put(version, List.of(kinds));
    return this;
  }

  /** The layout of Gateway API v1.5.1 experimental. */
  static MockGatewayApi current() {
    return new MockGatewayApi()
        .serve("v1", "HTTPRoute", "GRPCRoute", "TLSRoute")
        .serve("v1beta1", "HTTPRoute")
        .serve("v1alpha2", "TCPRoute");
  }

  /** Installs the discovery expectations and the CRUD contexts into {@code server}. */
  void install(KubernetesMockServer server) {
    String group = RouteFixtures.GROUP;
    var apiGroup = new APIGroupBuilder().withName(group);
    kindsByVersion.forEach(
        (version, kinds) -> {
          apiGroup.addToVersions(new GroupVersionForDiscovery(group + "/" + version, version));
          var list = new APIResourceListBuilder().withGroupVersion(group + "/" + version);
          for (String kind : kinds) {
            String plural = plural(kind);
            list.addToResources(
                new APIResourceBuilder()
                    .withName(plural)
                    .withKind(kind)
                    .withNamespaced(true)
                    .withVerbs("get", "list", "watch", "patch")
                    .build());
            server.expectCustomResource(
                new CustomResourceDefinitionContext.Builder()
                    .withGroup(group)
                    .withVersion(version)
                    .withKind(kind)
                    .withPlural(plural)
                    .withScope("Namespaced")
                    .build());
          }
          server
              .expect()
              .get()
              .withPath("/apis/" + group + "/" + version)
              .andReturn(200, list.build())
              .always();
        });
    server.expect().get().withPath("/apis/" + group).andReturn(200, apiGroup.build()).always();
  }

  /** The resource path of one route, e.g. for error expectations. */
  static String path(String version, String kind, String namespace, String name) {
    return "/apis/"
        + RouteFixtures.GROUP
        + "/"
        + version
        + "/namespaces/"
        + namespace
        + "/"
        + plural(kind)
        + "/"
        + name;
  }

  /** The path our adapter PATCHes one route at (it asks for strict field validation). */
  static String patchPath(String version, String kind, String namespace, String name) {
    return path(version, kind, namespace, name) + "?fieldValidation=Strict";
  }

  /** A Kubernetes Status failure body. */
  static Status failure(int code, String reason, String message) {
    return new StatusBuilder()
        .withApiVersion("v1")
        .withKind("Status")
        .withStatus("Failure")
        .withCode(code)
        .withReason(reason)
        .withMessage(message)
        .build();
  }

  private static String plural(String kind) {
    return kind.toLowerCase() + "s";
  }
}
