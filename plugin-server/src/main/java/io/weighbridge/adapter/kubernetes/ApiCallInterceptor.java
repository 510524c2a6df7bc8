package io.weighbridge.adapter.kubernetes;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.weighbridge.adapter.kubernetes.ApiCallRecorder.Verb;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;

/**
 * A fabric8 HTTP-client interceptor that tells an {@link ApiCallRecorder} of every request the
 * client sends (one per HTTP exchange: fabric8's own retries count, as they reach the API server).
 * Installed by {@link KubernetesClients} on the client the whole plugin-server uses, so the count
 * includes requests fabric8 makes on its own (e.g. a GET before a patch).
 */
final class ApiCallInterceptor implements Interceptor {

  /** The name the interceptor is registered under. */
  static final String NAME = "weighbridge-api-calls";

  private final ApiCallRecorder recorder;

  ApiCallInterceptor(ApiCallRecorder recorder) {
    this.recorder = recorder;
  }

  @Override
  public void after(
      HttpRequest request,
      HttpResponse<?> response,
      AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    record(request, response.code());
  }

  @Override
  public void afterConnectionFailure(HttpRequest request, Throwable failure) {
    record(request, 0);
  }

  private void record(HttpRequest request, int code) {
    Target t = target(request.method(), request.uri());
    recorder.record(t.verb(), t.resource(), code);
  }

  /** What a request was about. */
  record Target(Verb verb, String resource) {}

  /**
   * Classifies a request by method and path, the way the API server does: {@code
   * /api/v1/namespaces/ns/services/name} is a GET of services, {@code /apis/g/v/routes} a LIST (a
   * WATCH with {@code watch=true}), {@code /apis/g} and {@code /apis/g/v} are discovery.
   */
  static Target target(String method, URI uri) {
    String path = uri.getPath() == null ? "" : uri.getPath();
    String[] all = path.replaceAll("^/+|/+$", "").split("/+");
    String resource;
    boolean named;
    int rest;
    if (all.length >= 1 && all[0].equals("api")) {
      rest = 2; // api/v1/...
    } else if (all.length >= 1 && all[0].equals("apis")) {
      rest = 3; // apis/group/version/...
    } else {
      return new Target(verb(method, true, uri), all.length == 0 ? "" : all[0]);
    }
    if (all.length <= rest) {
      return new Target(verb(method, true, uri), "discovery");
    }
    int i = rest;
    if (all[i].equals("namespaces") && all.length >= i + 3) {
      i += 2; // namespaces/<ns>/<resource>...
    }
    resource = all[i];
    named = all.length > i + 1;
    if (all.length > i + 2) {
      resource = resource + "/" + all[i + 2];
    }
    return new Target(verb(method, named, uri), resource);
  }

  private static Verb verb(String method, boolean named, URI uri) {
    return switch (method.toUpperCase(Locale.ROOT)) {
      case "PATCH" -> Verb.PATCH;
      case "POST" -> Verb.CREATE;
      case "PUT" -> Verb.UPDATE;
      case "DELETE" -> Verb.DELETE;
      default -> {
        String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
        if (query.matches("(^|.*&)watch=(true|1)(&.*|$)")) {
          yield Verb.WATCH;
        }
        yield named ? Verb.GET : Verb.LIST;
      }
    };
  }
}
