package io.weighbridge.domain.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.analysis.AnalysisConfig.Action;
import io.weighbridge.domain.analysis.AnalysisConfig.CustomCheck;
import io.weighbridge.domain.analysis.AnalysisConfig.OnInconclusive;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AnalysisConfigParserTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PATH = "plugins[\"weighbridge/gateway-api\"]";

  private static AnalysisConfig parse(String pluginJson) throws Exception {
    JsonNode node = JSON.readTree(pluginJson.replace('\'', '"'));
    return AnalysisConfigParser.parse(node, PATH);
  }

  @Test
  @DisplayName(
      "When the plugin config has no analysis key, then built-in checks protect the Rollout")
  void defaults() throws Exception {
    AnalysisConfig c = parse("{'httpRoute': 'web'}");
    assertThat(c).isEqualTo(AnalysisConfig.DEFAULTS);
    assertThat(c.enabled()).isTrue();
    assertThat(c.successRate().enabled()).isTrue();
    assertThat(c.successRate().policy().action()).isEqualTo(Action.ABORT);
    assertThat(c.successRate().policy().onInconclusive()).isEqualTo(OnInconclusive.NOTHING);
    assertThat(c.latency().enabled()).isTrue();
    assertThat(c.latency().quantile()).isEqualTo(0.95);
    assertThat(c.grpcFailureCodes()).containsExactlyInAnyOrder(2, 4, 12, 13, 14, 15);
    assertThat(c.custom()).isEmpty();
  }

  @Test
  void falseTurnsItOff() throws Exception {
    assertThat(parse("{'analysis': false}").enabled()).isFalse();
    assertThat(parse("{'analysis': {'enabled': false}}").enabled()).isFalse();
    assertThat(parse("{'analysis': true}").enabled()).isTrue();
  }

  @Test
  @DisplayName("When policy is set at the top, then checks inherit it and may override it")
  void policyInheritance() throws Exception {
    AnalysisConfig c =
        parse(
            "{'analysis': {'action': 'pause', 'sensitivity': 'high', 'minSampleSize': 7,"
                + " 'onInconclusive': 'pause', 'successRate': {'action': 'abort', 'maxErrorRate':"
                + " 0.01}, 'latency': {'quantile': 0.99, 'margin': 0.2, 'maxSeconds': 2}}}");
    assertThat(c.successRate().policy().action()).isEqualTo(Action.ABORT);
    assertThat(c.successRate().policy().alpha()).isEqualTo(0.01);
    assertThat(c.successRate().policy().minSampleSize()).isEqualTo(7);
    assertThat(c.successRate().policy().onInconclusive()).isEqualTo(OnInconclusive.PAUSE);
    assertThat(c.successRate().maxErrorRate()).hasValue(0.01);
    assertThat(c.latency().policy().action()).isEqualTo(Action.PAUSE);
    assertThat(c.latency().policy().minSampleSize()).isEqualTo(7);
    assertThat(c.latency().quantile()).isEqualTo(0.99);
    assertThat(c.latency().margin()).isEqualTo(0.2);
    assertThat(c.latency().maxSeconds()).hasValue(2.0);
  }

  @Test
  void numericSensitivityAndGrpcCodes() throws Exception {
    AnalysisConfig c =
        parse("{'analysis': {'sensitivity': 0.001, 'grpcFailureCodes': [2, 13, 14, 8]}}");
    assertThat(c.successRate().policy().alpha()).isEqualTo(0.001);
    assertThat(c.grpcFailureCodes()).containsExactlyInAnyOrder(2, 8, 13, 14);
  }

  @Test
  void customChecks() throws Exception {
    AnalysisConfig c =
        parse(
            "{'analysis': {'checks': [{'name': 'db', 'errorQuery': 'e{{service}}', 'totalQuery':"
                + " 't', 'maxErrorRate': 0.05, 'action': 'pause'}, {'name': 'queue', 'query':"
                + " 'q{{podTemplateHash}}', 'max': 100, 'tolerance': 0.3}]}}");
    assertThat(c.custom()).hasSize(2);
    CustomCheck db = c.custom().get(0);
    assertThat(db.kind()).isEqualTo(CustomCheck.Kind.ERROR_RATE);
    assertThat(db.max()).hasValue(0.05);
    assertThat(db.policy().action()).isEqualTo(Action.PAUSE);
    CustomCheck queue = c.custom().get(1);
    assertThat(queue.kind()).isEqualTo(CustomCheck.Kind.VALUE);
    assertThat(queue.max()).hasValue(100.0);
    assertThat(queue.tolerance()).hasValue(0.3);
    assertThat(queue.path()).isEqualTo(PATH + ".analysis.checks[1]");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "{'analysis': 3}|plugins[\"weighbridge/gateway-api\"].analysis must be an object",
        "{'analysis': {'actoin': 'abort'}}|.analysis.actoin is not a known key",
        "{'analysis': {'action': 'rollback'}}|.analysis.action is \"rollback\": use \"abort\"",
        "{'analysis': {'onInconclusive': 'fail'}}|.analysis.onInconclusive is \"fail\"",
        "{'analysis': {'sensitivity': 'extreme'}}|.analysis.sensitivity is \"extreme\"",
        "{'analysis': {'sensitivity': 0.5}}|.analysis.sensitivity is 0.5",
        "{'analysis': {'minSampleSize': 0}}|.analysis.minSampleSize is 0",
        "{'analysis': {'minSampleSize': 2.5}}|.analysis.minSampleSize is 2.5",
        "{'analysis': {'enabled': 'yes'}}|.analysis.enabled is \"yes\": use true or false",
        "{'analysis': {'grpcFailureCodes': [0]}}|.analysis.grpcFailureCodes[0] is 0",
        "{'analysis': {'grpcFailureCodes': []}}|.analysis.grpcFailureCodes must be a non-empty",
        "{'analysis': {'successRate': {'maxErrorRate': 5}}}|.successRate.maxErrorRate is 5",
        "{'analysis': {'successRate': {'threshold': 5}}}|.successRate.threshold is not a known key",
        "{'analysis': {'latency': {'quantile': 99}}}|.latency.quantile is 99",
        "{'analysis': {'latency': {'quantile': 1}}}|.latency.quantile must be between 0 and 1",
        "{'analysis': {'latency': {'margin': -1}}}|.latency.margin is -1",
        "{'analysis': {'latency': {'tolerance': 0.5}}}|.latency.tolerance is not a known key",
        "{'analysis': {'checks': {}}}|.analysis.checks must be an array",
        "{'analysis': {'checks': [{'query': 'x', 'max': 1}]}}|.checks[0].name is missing",
        "{'analysis': {'checks': [{'name': 'latency', 'query': 'x', 'max': 1}]}}|is used twice",
        "{'analysis': {'checks': [{'name': 'a'}]}}|.checks[0] must have either \"query\"",
        "{'analysis': {'checks': [{'name': 'a', 'query': 'x'}]}}|so it could never fail",
        "{'analysis': {'checks': [{'name': 'a', 'errorQuery': 'x'}]}}|.checks[0].totalQuery is"
            + " missing",
        "{'analysis': {'checks': [{'name': 'a', 'query': 'x', 'errorQuery': 'y'}]}}|either",
        "{'analysis': {'checks': [{'name': 'a', 'query': 'x', 'maxErrorRate': 0.1}]}}|use \"max\"",
        "{'analysis': {'checks': [{'name': 'a', 'query': ''}]}}|.checks[0].query must be a"
            + " non-empty string",
      })
  @DisplayName("When the analysis block is wrong, then the error names the JSON path and the fix")
  void rejects(String json, String message) {
    assertThatThrownBy(() -> parse(json))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining(message.replace('\'', '"'));
  }
}
