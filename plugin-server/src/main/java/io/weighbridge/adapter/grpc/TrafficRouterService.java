package io.weighbridge.adapter.grpc;

import io.grpc.stub.StreamObserver;
import io.weighbridge.contract.v1.InitPluginRequest;
import io.weighbridge.contract.v1.InitPluginResponse;
import io.weighbridge.contract.v1.RemoveManagedRoutesRequest;
import io.weighbridge.contract.v1.RemoveManagedRoutesResponse;
import io.weighbridge.contract.v1.SetHeaderRouteRequest;
import io.weighbridge.contract.v1.SetHeaderRouteResponse;
import io.weighbridge.contract.v1.SetMirrorRouteRequest;
import io.weighbridge.contract.v1.SetMirrorRouteResponse;
import io.weighbridge.contract.v1.SetWeightRequest;
import io.weighbridge.contract.v1.SetWeightResponse;
import io.weighbridge.contract.v1.TrafficRouterGrpc;
import io.weighbridge.contract.v1.TypeRequest;
import io.weighbridge.contract.v1.TypeResponse;
import io.weighbridge.contract.v1.UpdateHashRequest;
import io.weighbridge.contract.v1.UpdateHashResponse;
import io.weighbridge.contract.v1.VerifyWeightRequest;
import io.weighbridge.contract.v1.VerifyWeightResponse;
import io.weighbridge.domain.Caller;
import io.weighbridge.domain.Echo;
import io.weighbridge.domain.RejectedException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.TrafficRouter;
import java.util.List;

/**
 * The contract's TrafficRouter service: checks the caller's plugin name, converts the request with
 * {@link ProtoMapper}, calls the domain {@link TrafficRouter} within the time bound of {@link
 * BoundedCallRunner}, and converts the answer back. Failures become statuses in {@link
 * StatusMapper} only.
 */
public final class TrafficRouterService extends TrafficRouterGrpc.TrafficRouterImplBase {
  private final TrafficRouter router;
  private final ProtoMapper mapper;
  private final BoundedCallRunner calls;
  private final List<String> acceptedPluginNames;

  /**
   * Creates the service.
   *
   * @param router the domain port that does the work
   * @param mapper converts messages
   * @param calls runs each call within its bound
   * @param acceptedPluginNames the plugin names a connector may call as
   */
  public TrafficRouterService(
      TrafficRouter router,
      ProtoMapper mapper,
      BoundedCallRunner calls,
      List<String> acceptedPluginNames) {
    this.router = router;
    this.mapper = mapper;
    this.calls = calls;
    this.acceptedPluginNames = List.copyOf(acceptedPluginNames);
  }

  @Override
  public void initPlugin(InitPluginRequest request, StreamObserver<InitPluginResponse> responses) {
    calls.run(
        TrafficRouterGrpc.getInitPluginMethod().getBareMethodName(),
        null,
        responses,
        () -> {
          router.initPlugin(accepted(request.getCaller()));
          return InitPluginResponse.getDefaultInstance();
        });
  }

  @Override
  public void updateHash(UpdateHashRequest request, StreamObserver<UpdateHashResponse> responses) {
    String method = TrafficRouterGrpc.getUpdateHashMethod().getBareMethodName();
    calls.run(
        method,
        key(request.getRollout()),
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          router.updateHash(
              caller,
              mapper.rollout(method, request.hasRollout(), request.getRollout()),
              request.getCanaryHash(),
              request.getStableHash(),
              mapper.destinations(request.getAdditionalDestinationsList()));
          return UpdateHashResponse.getDefaultInstance();
        });
  }

  @Override
  public void setWeight(SetWeightRequest request, StreamObserver<SetWeightResponse> responses) {
    String method = TrafficRouterGrpc.getSetWeightMethod().getBareMethodName();
    calls.run(
        method,
        key(request.getRollout()),
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          router.setWeight(
              caller,
              mapper.rollout(method, request.hasRollout(), request.getRollout()),
              request.getDesiredWeight(),
              mapper.destinations(request.getAdditionalDestinationsList()));
          return SetWeightResponse.getDefaultInstance();
        });
  }

  @Override
  public void setHeaderRoute(
      SetHeaderRouteRequest request, StreamObserver<SetHeaderRouteResponse> responses) {
    String method = TrafficRouterGrpc.getSetHeaderRouteMethod().getBareMethodName();
    String key = key(request.getRollout());
    calls.run(
        method,
        key,
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          Rollout rollout = mapper.rollout(method, request.hasRollout(), request.getRollout());
          router.setHeaderRoute(
              caller,
              rollout,
              mapper.headerRoute(key, request.hasHeaderRoute(), request.getHeaderRoute()));
          return SetHeaderRouteResponse.getDefaultInstance();
        });
  }

  @Override
  public void setMirrorRoute(
      SetMirrorRouteRequest request, StreamObserver<SetMirrorRouteResponse> responses) {
    String method = TrafficRouterGrpc.getSetMirrorRouteMethod().getBareMethodName();
    String key = key(request.getRollout());
    calls.run(
        method,
        key,
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          Rollout rollout = mapper.rollout(method, request.hasRollout(), request.getRollout());
          router.setMirrorRoute(
              caller,
              rollout,
              mapper.mirrorRoute(key, request.hasMirrorRoute(), request.getMirrorRoute()));
          return SetMirrorRouteResponse.getDefaultInstance();
        });
  }

  @Override
  public void verifyWeight(
      VerifyWeightRequest request, StreamObserver<VerifyWeightResponse> responses) {
    String method = TrafficRouterGrpc.getVerifyWeightMethod().getBareMethodName();
    calls.run(
        method,
        key(request.getRollout()),
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          return mapper.verifyWeightResponse(
              router.verifyWeight(
                  caller,
                  mapper.rollout(method, request.hasRollout(), request.getRollout()),
                  request.getDesiredWeight(),
                  mapper.destinations(request.getAdditionalDestinationsList())));
        });
  }

  @Override
  public void removeManagedRoutes(
      RemoveManagedRoutesRequest request, StreamObserver<RemoveManagedRoutesResponse> responses) {
    String method = TrafficRouterGrpc.getRemoveManagedRoutesMethod().getBareMethodName();
    calls.run(
        method,
        key(request.getRollout()),
        responses,
        () -> {
          Caller caller = accepted(request.getCaller());
          router.removeManagedRoutes(
              caller, mapper.rollout(method, request.hasRollout(), request.getRollout()));
          return RemoveManagedRoutesResponse.getDefaultInstance();
        });
  }

  @Override
  public void type(TypeRequest request, StreamObserver<TypeResponse> responses) {
    calls.run(
        TrafficRouterGrpc.getTypeMethod().getBareMethodName(),
        null,
        responses,
        () -> {
          accepted(request.getCaller());
          return mapper.typeResponse(router.type());
        });
  }

  /** The caller, when its plugin name is one this server accepts. */
  private Caller accepted(io.weighbridge.contract.v1.Caller proto) {
    Caller caller = mapper.caller(proto);
    if (!acceptedPluginNames.contains(caller.pluginName())) {
      throw new RejectedException(
          "plugin name "
              + (caller.pluginName().isEmpty() ? "(empty)" : Echo.value(caller.pluginName()))
              + " is not accepted by this plugin-server (accepted: "
              + String.join(", ", acceptedPluginNames)
              + "): set --accepted-plugin-names (or WEIGHBRIDGE_ACCEPTED_PLUGIN_NAMES) to include"
              + " it, or rename the plugin in argo-rollouts-config");
    }
    return caller;
  }

  /** {@code namespace/name} for logs and messages, before the request is validated; or null. */
  private static String key(io.weighbridge.contract.v1.Rollout rollout) {
    return rollout.getNamespace().isEmpty() && rollout.getName().isEmpty()
        ? null
        : Echo.value(rollout.getNamespace()) + "/" + Echo.value(rollout.getName());
  }
}
