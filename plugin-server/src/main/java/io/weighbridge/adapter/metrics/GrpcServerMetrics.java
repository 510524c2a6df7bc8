package io.weighbridge.adapter.metrics;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * The gRPC server metrics under the names and labels standard gRPC dashboards read (those of
 * go-grpc-prometheus): {@code grpc_server_started_total}, {@code
 * grpc_server_handled_total{grpc_code,grpc_method,grpc_service,grpc_type}} and the histogram {@code
 * grpc_server_handling_seconds}; and {@code weighbridge_connector_calls_total{connector_version}}
 * from the version the connector sends in the {@value #CONNECTOR_VERSION_HEADER} header of every
 * call, so that a connector of another release than {@code weighbridge_build_info} shows (version
 * skew).
 */
public final class GrpcServerMetrics implements ServerInterceptor {

  /** The request header in which the connector names its version. */
  public static final String CONNECTOR_VERSION_HEADER = "weighbridge-connector-version";

  private static final Metadata.Key<String> CONNECTOR_VERSION =
      Metadata.Key.of(CONNECTOR_VERSION_HEADER, Metadata.ASCII_STRING_MARSHALLER);

  /** A version label stays short and printable, whatever a caller sends. */
  private static final Pattern VERSION = Pattern.compile("[A-Za-z0-9._+-]{1,64}");

  private final MeterRegistry registry;
  private final Duration[] buckets;

  /**
   * Records into {@code registry}, with {@code buckets} as the histogram's upper bounds.
   *
   * @param registry where the meters go
   * @param buckets the upper bounds of {@code grpc_server_handling_seconds}' buckets
   */
  public GrpcServerMetrics(MeterRegistry registry, Duration... buckets) {
    this.registry = registry;
    this.buckets = buckets.clone();
  }

  /** Registers every method's series (code OK) at zero, so rates and alerts see zeros. */
  public void preregister(ServerServiceDefinition service) {
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      MethodDescriptor<?, ?> descriptor = method.getMethodDescriptor();
      started(descriptor);
      handled(descriptor, Status.Code.OK);
      handling(descriptor);
    }
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    MethodDescriptor<Q, A> method = call.getMethodDescriptor();
    started(method).increment();
    connectorCalls(headers.get(CONNECTOR_VERSION)).increment();
    long start = System.nanoTime();
    AtomicBoolean recorded = new AtomicBoolean();
    Runnable cancelled = () -> record(method, Status.Code.CANCELLED, start, recorded);
    ServerCall<Q, A> measured =
        new SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            record(method, status.getCode(), start, recorded);
            super.close(status, trailers);
          }
        };
    return new SimpleForwardingServerCallListener<>(next.startCall(measured, headers)) {
      @Override
      public void onCancel() {
        cancelled.run(); // the caller went away (or its deadline passed) before an answer
        super.onCancel();
      }
    };
  }

  private void record(
      MethodDescriptor<?, ?> method, Status.Code code, long start, AtomicBoolean recorded) {
    if (recorded.compareAndSet(false, true)) {
      handled(method, code).increment();
      handling(method).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
  }

  private Counter started(MethodDescriptor<?, ?> method) {
    return Counter.builder("grpc.server.started")
        .description("RPCs started on the server")
        .tags(labels(method))
        .register(registry);
  }

  private Counter handled(MethodDescriptor<?, ?> method, Status.Code code) {
    return Counter.builder("grpc.server.handled")
        .description("RPCs completed on the server, by gRPC status code")
        .tags(labels(method))
        .tag("grpc_code", code.name())
        .register(registry);
  }

  private Timer handling(MethodDescriptor<?, ?> method) {
    return Timer.builder("grpc.server.handling")
        .description("Time from the start of an RPC to its answer (or cancellation)")
        .tags(labels(method))
        .serviceLevelObjectives(buckets)
        .register(registry);
  }

  private Counter connectorCalls(String version) {
    String label = version == null ? "unknown" : version.trim();
    if (!VERSION.matcher(label).matches()) {
      label = "invalid";
    }
    return Counter.builder("weighbridge.connector.calls")
        .description(
            "Calls by the connector's version (its "
                + CONNECTOR_VERSION_HEADER
                + " header; unknown: no header); compare with weighbridge_build_info")
        .tag("connector_version", label)
        .register(registry);
  }

  private static String[] labels(MethodDescriptor<?, ?> method) {
    String service = method.getServiceName();
    String name = method.getBareMethodName();
    return new String[] {
      "grpc_service", service == null ? "unknown" : service,
      "grpc_method", name == null ? "unknown" : name,
      "grpc_type", type(method.getType())
    };
  }

  /** go-grpc-prometheus' names of the call types. */
  private static String type(MethodDescriptor.MethodType type) {
    return switch (type) {
      case UNARY -> "unary";
      case CLIENT_STREAMING -> "client_stream";
      case SERVER_STREAMING -> "server_stream";
      case BIDI_STREAMING -> "bidi_stream";
      case UNKNOWN -> type.name().toLowerCase(Locale.ROOT);
    };
  }
}
