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
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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

  /**
   * One method's meters, looked up once: building a meter's id (tags sorted, the registry's map
   * read) on every call showed in the profile of the call threads.
   */
  private final class MethodMeters {
    private final MethodDescriptor<?, ?> method;
    private final Counter started;
    private final Timer handling;
    private final Map<Status.Code, Counter> handled = new ConcurrentHashMap<>();

    MethodMeters(MethodDescriptor<?, ?> method) {
      this.method = method;
      this.started = started(method);
      this.handling = handling(method);
    }

    Counter handled(Status.Code code) {
      return handled.computeIfAbsent(code, c -> GrpcServerMetrics.this.handled(method, c));
    }
  }

  private final MeterRegistry registry;
  private final Duration[] buckets;
  private final Map<String, MethodMeters> byMethod = new ConcurrentHashMap<>();
  private final Map<String, Counter> byConnectorVersion = new ConcurrentHashMap<>();

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
      meters(method.getMethodDescriptor()).handled(Status.Code.OK);
    }
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    MethodMeters method = meters(call.getMethodDescriptor());
    method.started.increment();
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

  private static void record(
      MethodMeters method, Status.Code code, long start, AtomicBoolean recorded) {
    if (recorded.compareAndSet(false, true)) {
      method.handled(code).increment();
      method.handling.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
  }

  private MethodMeters meters(MethodDescriptor<?, ?> method) {
    return byMethod.computeIfAbsent(method.getFullMethodName(), name -> new MethodMeters(method));
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
    return byConnectorVersion.computeIfAbsent(
        label,
        l ->
            Counter.builder("weighbridge.connector.calls")
                .description(
                    "Calls by the connector's version (its "
                        + CONNECTOR_VERSION_HEADER
                        + " header; unknown: no header); compare with weighbridge_build_info")
                .tag("connector_version", l)
                .register(registry));
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
