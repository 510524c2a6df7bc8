package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.impl.ListerWatcher;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The informer's LIST, decoded item by item, against fabric8's mock server (issue 11 item 2). */
@EnableKubernetesMockClient
class ItemTolerantRolloutListTest {
  KubernetesMockServer server;
  KubernetesClient client;

  private static String rollout(String name, String spec) {
    return "{\"apiVersion\":\"argoproj.io/v1alpha1\",\"kind\":\"Rollout\",\"metadata\":{\"namespace\":"
        + "\"shop\",\"name\":\""
        + name
        + "\",\"resourceVersion\":\"7\"},\"spec\":"
        + spec
        + "}";
  }

  private static String nested(int depth) {
    return "{\"x\":".repeat(depth) + "1" + "}".repeat(depth);
  }

  private final List<List<ItemTolerantRolloutList.Skipped>> reports = new ArrayList<>();

  @SuppressWarnings("unchecked")
  private GenericKubernetesResourceList list(String body) throws Exception {
    server
        .expect()
        .get()
        .withPath("/apis/argoproj.io/v1alpha1/rollouts")
        .andReturn(200, body)
        .once();
    var operation =
        (ListerWatcher<GenericKubernetesResource, GenericKubernetesResourceList>)
            client.genericKubernetesResources(KubernetesRolloutActions.ROLLOUTS).inAnyNamespace();
    return new ItemTolerantRolloutList(client, operation, reports::add)
        .submitList(new ListOptions())
        .get(30, TimeUnit.SECONDS);
  }

  @Nested
  @DisplayName("When one Rollout of the list is nested 9,000 levels deep")
  class DeepItem {

    @Test
    @DisplayName("When listed, then the others are returned and that one is reported skipped")
    void skippedAndNamed() throws Exception {
      String body =
          "{\"kind\":\"RolloutList\",\"metadata\":{\"resourceVersion\":\"42\"},\"items\":["
              + rollout("calm", "{\"replicas\":1}")
              + ","
              + rollout("deep", nested(9000))
              + ","
              + rollout("late", "{\"replicas\":2}")
              + "]}";

      GenericKubernetesResourceList list = list(body);

      assertThat(list.getItems())
          .extracting(r -> r.getMetadata().getName())
          .containsExactly("calm", "late");
      assertThat(list.getMetadata().getResourceVersion()).isEqualTo("42");
      assertThat(reports).hasSize(1);
      assertThat(reports.getFirst())
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.namespace() + "/" + s.name()).isEqualTo("shop/deep");
                assertThat(s.resourceVersion()).isEqualTo("7");
                assertThat(s.reason()).contains("nested more than 400 levels");
              });
    }
  }

  @Test
  @DisplayName("When every Rollout is readable, then all are returned and none skipped")
  void allReadable() throws Exception {
    GenericKubernetesResourceList list =
        list(
            "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":["
                + rollout("a", nested(100))
                + "]}");

    assertThat(list.getItems()).hasSize(1);
    assertThat(new ObjectMapper().valueToTree(list.getItems().getFirst().get("spec")).isObject())
        .isTrue();
    assertThat(reports).containsExactly(List.of());
  }

  @Test
  @DisplayName("When nesting is measured, then it counts containers without recursion")
  void depth() throws Exception {
    ObjectMapper json = new ObjectMapper();
    assertThat(ItemTolerantRolloutList.depth(json.readTree("1"), 10)).isZero();
    assertThat(ItemTolerantRolloutList.depth(json.readTree("{\"a\":[{}]}"), 10)).isEqualTo(3);
    assertThat(ItemTolerantRolloutList.depth(json.readTree(nested(50)), 10)).isEqualTo(11);
  }
}
