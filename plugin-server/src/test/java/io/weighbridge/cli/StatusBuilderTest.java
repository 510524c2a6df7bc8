package io.weighbridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.weighbridge.cli.StatusReport.ManagedRule;
import io.weighbridge.cli.StatusReport.RuleWeights;
import io.weighbridge.domain.Rollout;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** How {@code status} reads weights and managed rules off a route object. */
class StatusBuilderTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static ArgoRollout rollout() throws Exception {
    JsonNode json =
        JSON.readTree(
            """
            {"spec":{"strategy":{"canary":{"canaryService":"c","stableService":"s"}}}}
            """);
    return new ArgoRollout(
        new Rollout("shop", "web", "u", 1, "1", json), "weighbridge/gateway-api");
  }

  @Test
  @DisplayName(
      "When rules reference the Services as Linkerd's examples do (group core), in another"
          + " namespace or not at all, then only the Rollout's own backends count")
  void ruleWeights() throws Exception {
    JsonNode route =
        JSON.readTree(
            """
            {"metadata":{"namespace":"shop"},"spec":{"rules":[
              {"backendRefs":[{"group":"core","kind":"Service","name":"s","weight":80},
                              {"group":"core","kind":"Service","name":"c","weight":20}]},
              {"backendRefs":[{"name":"s","namespace":"other","weight":5},{"name":"x"}]},
              {"name":"canary-header","backendRefs":[{"name":"c"}]}]}}
            """);
    List<ManagedRule> managed = List.of(new ManagedRule("hdr", "header", "canary-header"));

    assertThat(StatusBuilder.ruleWeights(route, rollout(), managed))
        .containsExactly(
            new RuleWeights(0, null, 80, 20, null),
            new RuleWeights(2, "canary-header", null, 1, "hdr"));
  }

  @Test
  @DisplayName("When the ledger annotation has entries, then only this Rollout's rules are listed")
  void managedRules() throws Exception {
    String ledger =
        "{\"version\":1,\"rollouts\":{\"shop/web\":{\"rules\":[{\"managedRoute\":\"hdr\","
            + "\"type\":\"header\",\"name\":\"hdr\",\"fingerprint\":\"f\"}]},"
            + "\"shop/other\":{\"rules\":[{\"managedRoute\":\"m\",\"type\":\"mirror\","
            + "\"fingerprint\":\"g\"}]}}}";
    com.fasterxml.jackson.databind.node.ObjectNode route = JSON.createObjectNode();
    route.putObject("metadata").putObject("annotations").put("weighbridge.io/managed", ledger);

    assertThat(StatusBuilder.managedRules(route, "shop/web"))
        .containsExactly(new ManagedRule("hdr", "header", "hdr"));
    assertThat(StatusBuilder.managedRules(route, "shop/none")).isEmpty();
    assertThat(StatusBuilder.managedRules(JSON.readTree("{}"), "shop/web")).isEmpty();
  }
}
