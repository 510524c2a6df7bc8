package io.weighbridge.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.weighbridge.testkit.Crds;
import io.weighbridge.testkit.KubeApiServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the testkit's etcd and kube-apiserver with the Gateway API (latest experimental) and Argo
 * Rollouts CRDs installed, for the Go end-to-end harness ({@code
 * e2e/conformance/internal/cluster}), which then starts kube-controller-manager, KWOK,
 * plugin-server and Argo's controller against it. Reusing the testkit keeps one way of starting the
 * API server (certificates, tokens, RBAC) instead of a second one in Go.
 *
 * <p>One flag: {@code --ready-file=PATH}, written as JSON once ready: pid, url, kubeconfig,
 * workDir. Runs until terminated; SIGTERM stops the API server and etcd. Must run with the
 * repository checkout as working directory (the testkit finds the control-plane build script and
 * testkit/upstream/resolve.sh, which gives the CRDs, from there); {@code
 * WEIGHBRIDGE_CONTROLPLANE_BIN} names prebuilt binaries.
 */
public final class ControlPlaneMain {

  private static final Logger LOG = LoggerFactory.getLogger(ControlPlaneMain.class);

  private ControlPlaneMain() {}

  /** Runs until the process is terminated. */
  public static void main(String[] args) throws IOException, InterruptedException {
    Path readyFile = null;
    for (String arg : args) {
      if (arg.startsWith("--ready-file=")) {
        readyFile = Path.of(arg.substring("--ready-file=".length()));
      } else {
        throw new IllegalArgumentException(
            "unknown argument " + arg + ": the only flag is --ready-file=PATH");
      }
    }
    long started = System.nanoTime();
    KubeApiServer apiServer =
        EngineFixtures.startApiServer(Crds.GATEWAY_API_LATEST, Crds.ARGO_ROLLOUTS);
    LOG.info("kube-apiserver with CRDs ready in {} ms", (System.nanoTime() - started) / 1_000_000);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  apiServer.close();
                  stopped.countDown();
                },
                "control-plane-shutdown"));

    ObjectNode ready = new ObjectMapper().createObjectNode();
    ready
        .put("pid", ProcessHandle.current().pid())
        .put("url", apiServer.url().toString())
        .put("kubeconfig", apiServer.kubeconfig().toAbsolutePath().toString())
        .put("workDir", apiServer.workDir().toAbsolutePath().toString());
    if (readyFile != null) {
      Path partial = readyFile.resolveSibling(readyFile.getFileName() + ".partial");
      Files.writeString(partial, ready.toString(), StandardCharsets.UTF_8);
      Files.move(partial, readyFile, StandardCopyOption.ATOMIC_MOVE);
    }
    System.out.println("CONTROL-PLANE READY " + ready);
    System.out.flush();
    stopped.await();
  }
}
