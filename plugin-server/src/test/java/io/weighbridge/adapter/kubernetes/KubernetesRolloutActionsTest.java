package io.weighbridge.adapter.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The analyzer's actions on a Rollout, against fabric8's mock server: what goes on the wire. */
@EnableKubernetesMockClient
class KubernetesRolloutActionsTest {
  KubernetesMockServer server;
  KubernetesClient client;

  private static final String PATH = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web";
  private static final String ROLLOUT =
      "{\"apiVersion\":\"argoproj.io/v1alpha1\",\"kind\":\"Rollout\","
          + "\"metadata\":{\"namespace\":\"shop\",\"name\":\"web\",\"resourceVersion\":\"8\"}}";

  private KubernetesRolloutActions actions() {
    return new KubernetesRolloutActions(client, "test-replica", Clock.systemUTC());
  }

  private List<RecordedRequest> requests() throws InterruptedException {
    List<RecordedRequest> out = new ArrayList<>();
    for (RecordedRequest r; (r = server.takeRequest(100, TimeUnit.MILLISECONDS)) != null; ) {
      out.add(r);
    }
    return out;
  }

  @Nested
  @DisplayName("When the analyzer pauses a Rollout")
  class Pause {

    @Test
    @DisplayName("When paused, then exactly one merge PATCH of spec.paused is sent, and no GET")
    void onePatchNoGet() throws Exception {
      server.expect().patch().withPath(PATH).andReturn(200, ROLLOUT).once();

      actions().pause("shop", "web");

      List<RecordedRequest> sent = requests();
      assertThat(sent).extracting(RecordedRequest::getMethod).containsExactly("PATCH");
      assertThat(sent.getFirst().getPath()).isEqualTo(PATH);
      assertThat(sent.getFirst().getHeader("Content-Type")).contains("merge-patch");
      assertThat(sent.getFirst().getBody().readUtf8())
          .isEqualTo(KubernetesRolloutActions.PAUSE_PATCH);
    }
  }

  @Nested
  @DisplayName("When the analyzer aborts a Rollout")
  class Abort {

    @Test
    @DisplayName(
        "When aborted, then exactly one merge PATCH of status.abort goes to the status subresource")
    void onePatchOnStatus() throws Exception {
      server.expect().patch().withPath(PATH + "/status").andReturn(200, ROLLOUT).once();

      actions().abort("shop", "web");

      List<RecordedRequest> sent = requests();
      assertThat(sent).extracting(RecordedRequest::getMethod).containsExactly("PATCH");
      assertThat(sent.getFirst().getPath()).isEqualTo(PATH + "/status");
      assertThat(sent.getFirst().getBody().readUtf8())
          .isEqualTo(KubernetesRolloutActions.ABORT_PATCH);
    }

    @Test
    @DisplayName(
        "When the status subresource is not served (404), then the object itself is patched, as"
            + " kubectl-argo-rollouts does")
    void fallsBackToTheObject() throws Exception {
      server.expect().patch().withPath(PATH + "/status").andReturn(404, "{}").once();
      server.expect().patch().withPath(PATH).andReturn(200, ROLLOUT).once();

      actions().abort("shop", "web");

      assertThat(requests())
          .extracting(RecordedRequest::getMethod, RecordedRequest::getPath)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("PATCH", PATH + "/status"),
              org.assertj.core.groups.Tuple.tuple("PATCH", PATH));
    }
  }
}
