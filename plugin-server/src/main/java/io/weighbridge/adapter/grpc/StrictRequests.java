package io.weighbridge.adapter.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.weighbridge.domain.Echo;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parses each request message itself, so that bytes that are not the method's protobuf message are
 * answered INVALID_ARGUMENT and counted, instead of gRPC's own UNKNOWN ("Application error
 * processing RPC") with a stack trace in the log for every such message. A fuzzer or a broken
 * client can send thousands a second: the log gets one line per interval with the count.
 */
public final class StrictRequests {
  private static final Logger log = LoggerFactory.getLogger(StrictRequests.class);

  /** How often at most a malformed request is logged; the others in between are counted. */
  static final Duration LOG_INTERVAL = Duration.ofMinutes(1);

  private final Counter malformed;
  private final LongSupplier nanoClock;
  private final Object lock = new Object();
  private long lastLogNanos;
  private boolean loggedOnce;
  private long unlogged;

  /**
   * Creates the parser.
   *
   * @param registry receives {@code weighbridge_grpc_malformed_requests_total}
   */
  public StrictRequests(MeterRegistry registry) {
    this(registry, System::nanoTime);
  }

  /** Creates the parser on the given clock (nanoseconds, like {@link System#nanoTime()}). */
  StrictRequests(MeterRegistry registry, LongSupplier nanoClock) {
    this.malformed =
        Counter.builder("weighbridge.grpc.malformed.requests")
            .description(
                "Request messages that were not the method's protobuf message, answered"
                    + " INVALID_ARGUMENT")
            .register(registry);
    this.nanoClock = nanoClock;
  }

  /** {@code service} with every method's request parsed here (responses are unchanged). */
  public ServerServiceDefinition wrap(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    List<ServerMethodDefinition<InputStream, ?>> methods = new ArrayList<>();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName())
            .setSchemaDescriptor(original.getSchemaDescriptor());
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<InputStream, ?> wrapped = wrap(method);
      methods.add(wrapped);
      descriptor.addMethod(wrapped.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }

  private <Q, A> ServerMethodDefinition<InputStream, A> wrap(ServerMethodDefinition<Q, A> method) {
    MethodDescriptor<Q, A> typed = method.getMethodDescriptor();
    MethodDescriptor<InputStream, A> raw =
        typed.toBuilder(RawMarshaller.INSTANCE, typed.getResponseMarshaller()).build();
    ServerCallHandler<Q, A> handler = method.getServerCallHandler();
    return ServerMethodDefinition.create(
        raw, (call, headers) -> new Parsing<>(typed, call, headers, handler));
  }

  /** Counts one malformed message and logs it, or the count since the last line, per interval. */
  void malformed(String method, Exception cause) {
    malformed.increment();
    long now = nanoClock.getAsLong();
    long count;
    synchronized (lock) {
      unlogged++;
      if (loggedOnce && now - lastLogNanos < LOG_INTERVAL.toNanos()) {
        return;
      }
      count = unlogged;
      unlogged = 0;
      lastLogNanos = now;
      loggedOnce = true;
    }
    log.atWarn()
        .addKeyValue("method", method)
        .addKeyValue("count", count)
        .log(
            "refused {} malformed request message(s) with INVALID_ARGUMENT in the last {} (the"
                + " latest to {}: {}); not the contract's protobuf: a connector of another"
                + " release, or something else is sending to the gRPC port (counted in"
                + " weighbridge_grpc_malformed_requests_total; logged once per {})",
            count,
            format(LOG_INTERVAL),
            method,
            Echo.value(String.valueOf(cause.getMessage())),
            format(LOG_INTERVAL));
  }

  private static String format(Duration d) {
    return d.toSeconds() + "s";
  }

  /** One call: the typed handler sees a parsed message, or the call ends INVALID_ARGUMENT. */
  private final class Parsing<Q, A> extends ServerCall.Listener<InputStream> {
    private final MethodDescriptor<Q, A> typed;
    private final ServerCall<InputStream, A> call;
    private final ServerCall.Listener<Q> inner;
    private boolean refused;

    Parsing(
        MethodDescriptor<Q, A> typed,
        ServerCall<InputStream, A> call,
        Metadata headers,
        ServerCallHandler<Q, A> handler) {
      this.typed = typed;
      this.call = call;
      this.inner = handler.startCall(new Typed<>(call, typed), headers);
    }

    @Override
    public void onMessage(InputStream message) {
      if (refused) {
        return;
      }
      Q request;
      try {
        request = typed.parseRequest(message);
      } catch (RuntimeException e) {
        refused = true;
        // protobuf's marshaller wraps the parser's reason (e.g. "the input ended unexpectedly").
        Exception why = e.getCause() instanceof Exception cause ? cause : e;
        malformed(typed.getBareMethodName(), why);
        call.close(
            Status.INVALID_ARGUMENT.withDescription(
                "the request is not a valid "
                    + typed.getFullMethodName()
                    + " message ("
                    + Echo.value(String.valueOf(why.getMessage()))
                    + "): use the weighbridge-connector of the same release as plugin-server"),
            new Metadata());
        return;
      }
      inner.onMessage(request);
    }

    @Override
    public void onHalfClose() {
      if (!refused) {
        inner.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      inner.onCancel();
    }

    @Override
    public void onComplete() {
      inner.onComplete();
    }

    @Override
    public void onReady() {
      if (!refused) {
        inner.onReady();
      }
    }
  }

  /**
   * The transport's call as the typed handler expects it: grpc's forwarding call, with the typed
   * method descriptor. No method of {@link ServerCall} takes a request message, so viewing the raw
   * call as one of {@code Q} is sound once {@link #getMethodDescriptor} says {@code Q}.
   */
  private static final class Typed<Q, A>
      extends ForwardingServerCall.SimpleForwardingServerCall<Q, A> {
    private final MethodDescriptor<Q, A> typed;

    @SuppressWarnings("unchecked")
    Typed(ServerCall<InputStream, A> call, MethodDescriptor<Q, A> typed) {
      super((ServerCall<Q, A>) (ServerCall<?, A>) call);
      this.typed = typed;
    }

    @Override
    public MethodDescriptor<Q, A> getMethodDescriptor() {
      return typed;
    }
  }

  /**
   * Hands the transport's stream on unread: {@link Parsing#onMessage} parses it at once, before
   * gRPC closes it, so protobuf's zero-copy path still applies.
   */
  private enum RawMarshaller implements MethodDescriptor.Marshaller<InputStream> {
    INSTANCE;

    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream;
    }
  }
}
