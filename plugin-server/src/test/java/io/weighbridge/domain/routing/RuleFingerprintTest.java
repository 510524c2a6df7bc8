package io.weighbridge.domain.routing;

import static io.weighbridge.domain.routing.Fixtures.obj;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RuleFingerprintTest {

  @Test
  @DisplayName("The API server's defaults do not change a rule's fingerprint")
  void defaultsIgnored() {
    var written =
        obj(
            """
            {'matches': [{'headers': [{'name': 'X-A', 'value': '1'}]}],
             'backendRefs': [{'name': 'c', 'port': 80}]}
            """);
    var stored =
        obj(
            """
            {'backendRefs': [{'weight': 1, 'port': 80, 'name': 'c', 'kind': 'Service',
                              'group': ''}],
             'matches': [{'path': {'value': '/', 'type': 'PathPrefix'},
                          'headers': [{'type': 'Exact', 'value': '1', 'name': 'X-A'}]}]}
            """);

    assertThat(RuleFingerprint.of(stored)).isEqualTo(RuleFingerprint.of(written));
    assertThat(RuleFingerprint.sameContent(stored, written)).isTrue();
  }

  @Test
  @DisplayName("Content changes and names are told apart")
  void differences() {
    var a = obj("{'name': 'a', 'backendRefs': [{'name': 'c', 'port': 80}]}");
    var renamed = obj("{'name': 'b', 'backendRefs': [{'name': 'c', 'port': 80}]}");
    var weighted = obj("{'name': 'a', 'backendRefs': [{'name': 'c', 'port': 80, 'weight': 2}]}");

    assertThat(RuleFingerprint.of(a)).isEqualTo(RuleFingerprint.of(renamed));
    assertThat(RuleFingerprint.sameContent(a, renamed)).isFalse();
    assertThat(RuleFingerprint.of(a)).isNotEqualTo(RuleFingerprint.of(weighted));
    assertThat(RuleFingerprint.of(a)).hasSize(16);
  }
}
