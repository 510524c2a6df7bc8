package io.weighbridge.adapter.grpc;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC port's TLS identity from a PEM certificate and key file, re-read when either file
 * changes (checked every {@link #RELOAD_INTERVAL}), so that a renewed certificate (cert-manager, a
 * rotated Secret) is used without a restart. Built on grpc-java's own {@link
 * AdvancedTlsX509KeyManager}.
 */
public final class ServerTls implements AutoCloseable {

  /** How often the files are checked for changes (grpc-java allows no less than a minute). */
  public static final Duration RELOAD_INTERVAL = Duration.ofMinutes(1);

  private final AdvancedTlsX509KeyManager keyManager;
  private final ScheduledExecutorService reloader;
  private final AdvancedTlsX509KeyManager.Closeable reloading;

  private ServerTls(
      AdvancedTlsX509KeyManager keyManager,
      ScheduledExecutorService reloader,
      AdvancedTlsX509KeyManager.Closeable reloading) {
    this.keyManager = keyManager;
    this.reloader = reloader;
    this.reloading = reloading;
  }

  /**
   * Loads the certificate chain and key, and keeps watching them.
   *
   * @throws IllegalArgumentException when the files cannot be read as a PEM certificate and a
   *     matching PKCS#8 key (the message names the flags to fix)
   */
  public static ServerTls load(Path certFile, Path keyFile, Duration reloadInterval) {
    AdvancedTlsX509KeyManager keyManager = new AdvancedTlsX509KeyManager();
    ScheduledExecutorService reloader =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("weighbridge-tls-reload").daemon().factory());
    try {
      AdvancedTlsX509KeyManager.Closeable reloading =
          keyManager.updateIdentityCredentials(
              certFile.toFile(),
              keyFile.toFile(),
              reloadInterval.toMillis(),
              TimeUnit.MILLISECONDS,
              reloader);
      return new ServerTls(keyManager, reloader, reloading);
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      reloader.shutdownNow();
      throw new IllegalArgumentException(
          "cannot use --tls-cert-file="
              + certFile
              + " and --tls-key-file="
              + keyFile
              + " for TLS: "
              + e.getMessage()
              + "; they must be a PEM certificate (chain) and its PEM private key (PKCS#8,"
              + " 'BEGIN PRIVATE KEY', as cert-manager writes with privateKey.encoding: PKCS8)",
          e);
    }
  }

  /** Server credentials that present the current certificate. */
  public ServerCredentials credentials() {
    return TlsServerCredentials.newBuilder().keyManager(keyManager).build();
  }

  /** Stops watching the files. */
  @Override
  public void close() {
    reloading.close();
    reloader.shutdownNow();
  }
}
