package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import java.net.URI;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ApiCallRecordersTest {

  @Test
  @DisplayName("When requests are recorded, then the counter totals them by verb and resource")
  void counter() {
    ApiCallCounter counter = new ApiCallCounter();

    counter.record(Verb.GET, "httproutes", 200);
    counter.record(Verb.GET, "discovery", 200);
    counter.record(Verb.PATCH, "httproutes", 200);
    counter.record(Verb.LIST, "httproutes", 200);

    assertThat(counter.count(Verb.GET, "httproutes")).isEqualTo(1);
    assertThat(counter.reads()).isEqualTo(2);
    assertThat(counter.writes()).isEqualTo(1);
    assertThat(counter.total()).isEqualTo(3);
    assertThat(counter.count(Verb.PATCH, "services")).isZero();
  }

  @Test
  @DisplayName(
      "When requests are recorded with Micrometer, then one counter per verb, resource, code")
  void micrometer() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ApiCallRecorder recorder = new MicrometerApiCallRecorder(registry);

    recorder.record(Verb.PATCH, "httproutes", 200);
    recorder.record(Verb.PATCH, "httproutes", 200);
    recorder.record(Verb.PATCH, "httproutes", 422);
    recorder.record(Verb.GET, "services", 0);

    assertThat(
            registry
                .get(MicrometerApiCallRecorder.METER)
                .tag("verb", "PATCH")
                .tag("resource", "httproutes")
                .tag("code", "200")
                .counter()
                .count())
        .isEqualTo(2);
    assertThat(
            registry
                .get(MicrometerApiCallRecorder.METER)
                .tag("verb", "GET")
                .tag("resource", "services")
                .tag("code", "none")
                .counter()
                .count())
        .isEqualTo(1);
  }

  @Nested
  @DisplayName("When the interceptor classifies a request")
  class Classify {

    private ApiCallInterceptor.Target target(String method, String uri) {
      return ApiCallInterceptor.target(method, URI.create("https://127.0.0.1:6443" + uri));
    }

    @Test
    @DisplayName("then a named route, a Service and a subresource are GETs of that resource")
    void gets() {
      assertThat(target("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes/web"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.GET, "httproutes"));
      assertThat(target("GET", "/api/v1/namespaces/a/services/stable"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.GET, "services"));
      assertThat(target("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/a/rollouts/r/status"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.PATCH, "rollouts/status"));
      assertThat(
              target(
                  "GET",
                  "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.gateway.networking.k8s.io"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.GET, "customresourcedefinitions"));
    }

    @Test
    @DisplayName("then collections are LIST or WATCH, group documents discovery")
    void collections() {
      assertThat(target("GET", "/apis/gateway.networking.k8s.io/v1/httproutes?limit=500"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.LIST, "httproutes"));
      assertThat(
              target(
                  "GET",
                  "/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes?allowWatchBookmarks=true&watch=true"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.WATCH, "httproutes"));
      assertThat(target("GET", "/apis/gateway.networking.k8s.io"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.GET, "discovery"));
      assertThat(target("GET", "/apis/gateway.networking.k8s.io/v1"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.GET, "discovery"));
      assertThat(target("POST", "/apis/authentication.k8s.io/v1/tokenreviews"))
          .isEqualTo(new ApiCallInterceptor.Target(Verb.CREATE, "tokenreviews"));
    }
  }
}
