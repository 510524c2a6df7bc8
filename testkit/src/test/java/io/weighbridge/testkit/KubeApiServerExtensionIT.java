package io.weighbridge.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.platform.testkit.engine.EngineTestKit;

/** Runs small test classes through the JUnit engine to prove the extension's lifecycle. */
class KubeApiServerExtensionIT {
  /** What the inner classes saw, keyed by what saw it. */
  static final Map<String, Object> seen = new ConcurrentHashMap<>();

  static final List<String> namespaces = new CopyOnWriteArrayList<>();

  @Test
  @DisplayName(
      "When two classes ask for the same CRDs, then they share one server that stops when the run ends,"
          + " and each test method gets its own namespace that is deleted after it")
  void sharesServerPerCrdSetAndCleansUp() {
    seen.clear();
    namespaces.clear();

    EngineTestKit.engine("junit-jupiter")
        .selectors(selectClass(First.class), selectClass(Second.class))
        .execute()
        .testEvents()
        .assertStatistics(stats -> stats.started(3).succeeded(3));

    assertThat(seen.get("First")).isNotNull().isEqualTo(seen.get("Second"));
    assertThat(seen.get("previous namespace deleted")).isEqualTo(true);
    assertThat(namespaces).hasSize(3).doesNotHaveDuplicates();
    assertThat(seen.get("same namespace in @BeforeEach")).isEqualTo(true);
    assertThat(listening((URI) seen.get("First"))).as("server stopped after the run").isFalse();
  }

  private static boolean listening(URI url) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(url.getHost(), url.getPort()), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @WithKubeApiServer(gatewayApi = "", argoRollouts = false)
  @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
  static class First {
    private TestNamespace fromBeforeEach;

    @BeforeEach
    void remember(TestNamespace namespace) {
      fromBeforeEach = namespace;
    }

    @Test
    @Order(1)
    void one(KubeApiServer server, TestNamespace namespace) {
      seen.put("First", server.url());
      seen.put("same namespace in @BeforeEach", namespace.equals(fromBeforeEach));
      namespaces.add(namespace.name());
    }

    @Test
    @Order(2)
    void two(KubernetesClient client, TestNamespace namespace) {
      var previous = client.namespaces().withName(namespaces.getFirst()).get();
      seen.put(
          "previous namespace deleted",
          previous == null || previous.getMetadata().getDeletionTimestamp() != null);
      namespaces.add(namespace.name());
    }
  }

  @WithKubeApiServer(gatewayApi = "", argoRollouts = false)
  static class Second {
    @Test
    void one(KubeApiServer server, TestNamespace namespace) {
      seen.put("Second", server.url());
      namespaces.add(namespace.name());
    }
  }
}
