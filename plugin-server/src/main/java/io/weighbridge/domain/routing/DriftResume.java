package io.weighbridge.domain.routing;

import com.fasterxml.jackson.databind.JsonNode;
import io.weighbridge.domain.InvalidConfigException;
import io.weighbridge.domain.NotFoundException;
import io.weighbridge.domain.Rollout;
import io.weighbridge.domain.routing.RolloutStates.Defended;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restart-resume: after plugin-server starts, finds the routes whose ledger records a canary in
 * progress and defends the recorded weights again without waiting for Argo's next call. A Rollout
 * is resumed only when it still exists with the recorded uid, still configures this plugin, and all
 * its routes record the same weights (else an interrupted SetWeight: Argo's next call decides).
 * Rollouts Argo called about since the start keep the state of that call.
 */
final class DriftResume implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DriftResume.class);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(1);
  private static final Comparator<RouteId> ROUTE_ORDER = Comparator.comparing(RouteId::toString);

  private final RouteClient client;
  private final RouteTargets targets;
  private final RolloutStates states;
  private final DriftGuard drift;
  private final Duration idleTimeout;
  private volatile boolean closed;
  private volatile Thread resumer;

  DriftResume(
      RouteClient client,
      RouteTargets targets,
      RolloutStates states,
      DriftGuard drift,
      Duration idleTimeout) {
    this.client = client;
    this.targets = targets;
    this.states = states;
    this.drift = drift;
    this.idleTimeout = idleTimeout;
  }

  /** See {@link GatewayApiTrafficRouter#resume}. */
  CompletableFuture<ResumeReport> start(RolloutLookup lookup, ResumeSettings rs) {
    CompletableFuture<ResumeReport> result = new CompletableFuture<>();
    Set<String> resumed = ConcurrentHashMap.newKeySet();
    Map<String, String> skipped = new ConcurrentHashMap<>();
    resumer =
        Thread.ofPlatform()
            .name("weighbridge-resume")
            .daemon()
            .start(() -> run(lookup, rs, resumed, skipped, result));
    return result;
  }

  private void run(
      RolloutLookup lookup,
      ResumeSettings rs,
      Set<String> resumed,
      Map<String, String> skipped,
      CompletableFuture<ResumeReport> result) {
    Duration backoff = rs.firstBackoff();
    for (int attempt = 1; ; attempt++) {
      if (closed) {
        result.completeExceptionally(
            new IllegalStateException("the engine was closed while resuming"));
        return;
      }
      try {
        resumeOnce(lookup, rs, resumed, skipped);
        LOG.info(
            "resumed drift restoration for {} Rollout(s) from their routes' ledgers{}",
            resumed.size(),
            skipped.isEmpty() ? "" : "; not resumed: " + new TreeMap<>(skipped));
        result.complete(new ResumeReport(resumed, skipped));
        return;
      } catch (RuntimeException e) {
        if (attempt >= rs.maxAttempts()) {
          LOG.warn(
              "could not resume drift restoration after {} attempt(s): {}; routes are"
                  + " watched again at Argo's next call about their Rollout",
              attempt,
              e.getMessage());
          result.completeExceptionally(e);
          return;
        }
        LOG.warn(
            "could not resume drift restoration yet (attempt {} of {}): {}; trying"
                + " again in {} ms",
            attempt,
            rs.maxAttempts(),
            e.getMessage(),
            backoff.toMillis());
      }
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        result.completeExceptionally(e);
        return;
      }
      backoff = backoff.multipliedBy(2);
      if (backoff.compareTo(MAX_BACKOFF) > 0) {
        backoff = MAX_BACKOFF;
      }
    }
  }

  /**
   * One search; Rollouts resumed or skipped by an earlier attempt are not looked at again.
   *
   * @throws RuntimeException when a route kind cannot be listed or a Rollout cannot be read
   */
  private void resumeOnce(
      RolloutLookup lookup, ResumeSettings rs, Set<String> resumed, Map<String, String> skipped) {
    Map<String, Map<RouteId, Ledger.Entry>> found = new TreeMap<>();
    for (RouteKind kind : RouteKind.values()) {
      if (client.apiVersion(kind).isEmpty()) {
        continue;
      }
      List<ObservedRoute> routes =
          rs.namespaces().isEmpty()
              ? client.listAllNamespaces(kind)
              : rs.namespaces().stream()
                  .sorted()
                  .flatMap(ns -> client.select(kind, ns, Map.of()).stream())
                  .toList();
      for (ObservedRoute route : routes) {
        if (RouteJson.annotation(route.object(), Ledger.ANNOTATION) == null) {
          continue;
        }
        Ledger ledger;
        try {
          ledger = Ledger.read(route.object(), route.id());
        } catch (InvalidConfigException e) {
          LOG.warn("not resuming drift restoration on {}: {}", route.id(), e.getMessage());
          continue;
        }
        ledger
            .entries()
            .forEach(
                (key, entry) -> {
                  if (entry.weights() != null) {
                    found
                        .computeIfAbsent(key, k -> new TreeMap<>(ROUTE_ORDER))
                        .put(route.id(), entry);
                  }
                });
      }
    }
    RuntimeException failure = null;
    for (Map.Entry<String, Map<RouteId, Ledger.Entry>> e : found.entrySet()) {
      String key = e.getKey();
      if (resumed.contains(key) || skipped.containsKey(key)) {
        continue;
      }
      try {
        String why = resumeRollout(lookup, rs, key, e.getValue());
        if (why == null) {
          resumed.add(key);
        } else {
          skipped.put(key, why);
        }
      } catch (RuntimeException ex) {
        LOG.debug("resuming Rollout {} failed", key, ex);
        if (failure == null) {
          failure = ex;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Resumes one Rollout; returns null when resumed, else why not. */
  private String resumeRollout(
      RolloutLookup lookup, ResumeSettings rs, String key, Map<RouteId, Ledger.Entry> recorded) {
    if (states.contains(key)) {
      return "Argo called about it since the start";
    }
    Set<Desired> weights = new HashSet<>();
    Set<String> uids = new HashSet<>();
    recorded
        .values()
        .forEach(
            x -> {
              weights.add(x.weights());
              uids.add(x.uid());
            });
    if (weights.size() != 1 || uids.size() != 1) {
      return "its routes record different weights or uids (a SetWeight was interrupted):"
          + " waiting for Argo's next call";
    }
    Desired desired = weights.iterator().next();
    String uid = uids.iterator().next();
    int slash = key.indexOf('/');
    if (slash <= 0) {
      return "the ledger key is not <namespace>/<name>";
    }
    Optional<Rollout> found = lookup.find(key.substring(0, slash), key.substring(slash + 1));
    if (found.isEmpty()) {
      return "the Rollout no longer exists";
    }
    Rollout rollout = found.get();
    if (!uid.isEmpty() && rollout.uid() != null && !uid.equals(rollout.uid())) {
      return "the Rollout was re-created (uid " + rollout.uid() + ", the ledger has " + uid + ")";
    }
    JsonNode plugins = rollout.json().at("/spec/strategy/canary/trafficRouting/plugins");
    Optional<String> plugin = rs.pluginNames().stream().filter(plugins::has).findFirst();
    if (plugin.isEmpty()) {
      return "the Rollout no longer configures " + String.join(" or ", rs.pluginNames());
    }
    List<RouteContext> contexts;
    try {
      RoutingConfig config = RoutingConfigParser.parse(rollout, plugin.get());
      if (desired.total() != config.maxTrafficWeight()) {
        return "its maxTrafficWeight changed since the recorded SetWeight";
      }
      contexts = targets.contexts(config, rollout);
    } catch (InvalidConfigException | NotFoundException e) {
      return e.getMessage();
    }
    Map<RouteId, Defended> byId = new LinkedHashMap<>();
    contexts.forEach(c -> byId.put(c.id(), Defended.empty(c).withDesired(desired)));
    if (!states.putIfAbsent(key, byId)) {
      return "Argo called about it since the start";
    }
    try {
      drift.watch(key, byId.keySet());
    } catch (RuntimeException e) {
      states.remove(key);
      throw e;
    }
    drift.recheck(key);
    LOG.info(
        "Rollout {}: restoring drift again on {} route(s) at the recorded canary weight {} (until"
            + " Argo's next call, or for at most {} without one)",
        key,
        byId.size(),
        desired.canary(),
        idleTimeout);
    return null;
  }

  @Override
  public void close() {
    closed = true;
    Thread r = resumer;
    if (r != null) {
      r.interrupt(); // ends a backoff wait
    }
  }
}
