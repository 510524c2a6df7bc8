package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class ApiCallRecordersTest {

  @Test
  @DisplayName("When requests are recorded, then the counter totals them by verb and resource")
  void counter() {
    ApiCallCounter counter = new ApiCallCounter();

    counter.record(Verb.GET, "httproutes");
    counter.record(Verb.GET, "discovery");
    counter.record(Verb.PATCH, "httproutes");

    assertThat(counter.count(Verb.GET, "httproutes")).isEqualTo(1);
    assertThat(counter.reads()).isEqualTo(2);
    assertThat(counter.writes()).isEqualTo(1);
    assertThat(counter.total()).isEqualTo(3);
    assertThat(counter.count(Verb.PATCH, "services")).isZero();
  }

  @Test
  @DisplayName("When requests are recorded with Micrometer, then one counter per verb and resource")
  void micrometer() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ApiCallRecorder recorder = new MicrometerApiCallRecorder(registry);

    recorder.record(Verb.PATCH, "httproutes");
    recorder.record(Verb.PATCH, "httproutes");
    recorder.record(Verb.GET, "services");

    assertThat(
            registry
                .get(MicrometerApiCallRecorder.METER)
                .tag("verb", "PATCH")
                .tag("resource", "httproutes")
                .counter()
                .count())
        .isEqualTo(2);
    assertThat(
            registry
                .get(MicrometerApiCallRecorder.METER)
                .tag("verb", "GET")
                .tag("resource", "services")
                .counter()
                .count())
        .isEqualTo(1);
  }
}
