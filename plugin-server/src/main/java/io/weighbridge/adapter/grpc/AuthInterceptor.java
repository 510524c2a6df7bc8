package io.weighbridge.adapter.grpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.weighbridge.domain.WeighbridgeException;
import io.weighbridge.domain.auth.CallerGate;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits a call only when its {@code authorization: Bearer <token>} metadata passes the {@link
 * CallerGate}; refuses it otherwise before any request message is read, with the status {@link
 * StatusMapper} gives the gate's failure (UNAUTHENTICATED, PERMISSION_DENIED or UNAVAILABLE).
 *
 * <p>The check runs on gRPC's call executor, not on a Netty event loop, so the TokenReview it may
 * make blocks only this call. Intercept only the services that need protection: the standard health
 * service stays open for probes and load balancers (it reveals nothing but serving status).
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(AuthInterceptor.class);

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final CallerGate gate;
  private final StatusMapper statuses;

  /** Creates the interceptor. */
  public AuthInterceptor(CallerGate gate, StatusMapper statuses) {
    this.gate = Objects.requireNonNull(gate, "gate");
    this.statuses = Objects.requireNonNull(statuses, "statuses");
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    try {
      gate.admit(Optional.ofNullable(headers.get(AUTHORIZATION)));
    } catch (WeighbridgeException refused) {
      Status status = statuses.toStatus(refused);
      // Never the token: only what was wrong, from where.
      log.atWarn()
          .addKeyValue("method", call.getMethodDescriptor().getFullMethodName())
          .addKeyValue("remote", call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR))
          .addKeyValue("code", status.getCode())
          .log(
              "refused {} from {}: {}",
              call.getMethodDescriptor().getFullMethodName(),
              call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
              refused.getMessage());
      // The cause stays on this side: only code and description go to the client.
      call.close(status.withCause(null), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }
}
