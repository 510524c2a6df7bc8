/**
 * The routing engine: Argo Rollouts' traffic-router calls applied to Gateway API routes, in pure
 * Java over Jackson trees, talking to the cluster only through {@link
 * io.weighbridge.domain.routing.RouteClient}.
 *
 * <h2>Layout</h2>
 *
 * <ul>
 *   <li>{@link io.weighbridge.domain.routing.GatewayApiTrafficRouter}: orchestration
 *       (configuration, route resolution, per-route locks, port calls, partial failures, drift
 *       lifecycle).
 *   <li>{@code RoutingConfigParser} / {@code RoutingConfig}: the plugin configuration, parsed once
 *       per Rollout generation into immutable records.
 *   <li>Pure planners, one generic core for every route kind: {@code WeightPlanner}, {@code
 *       HeaderRoutePlanner}, {@code MirrorRoutePlanner}, {@code ManagedRulePlanner}; they read a
 *       route and record JSON-patch operations on a {@code JsonPatchBuilder}. {@code Ledger} is the
 *       ownership bookkeeping and the in-progress label; {@code WeightVerifier} answers
 *       VerifyWeight; {@code DriftGuard} watches routes during a canary.
 * </ul>
 *
 * <h2>Configuration</h2>
 *
 * Read from {@code spec.strategy.canary.trafficRouting.plugins["<plugin name>"]}; the schema of
 * argoproj-labs/gatewayAPI plus additions:
 *
 * <pre>
 * httpRoute | grpcRoute | tcpRoute | tlsRoute | udpRoute: "name"   one route, header routes on
 * httpRoutes | grpcRoutes | tcpRoutes | tlsRoutes | udpRoutes: list of
 *   - name: "route"                    required
 *     useHeaderRoutes: true|false      managed (header and mirror) rules may be added (default false)
 *     namespace: "ns"                  (added) default: top-level namespace
 *     ruleNames: ["web"]               (added) change exactly these rules (spec.rules[].name)
 *     verifyWeight: status|spec|off    (added) override for this route
 * httpRouteSelector | ...: {matchLabels, matchExpressions}   discover routes on every call
 * namespace: "ns"                      default: the Rollout's namespace
 * disableInProgressLabel: false
 * inProgressLabelKey: rollouts.argoproj.io/gatewayapi-canary
 * inProgressLabelValue: in-progress
 * verifyWeight: status                 (added) status | spec | off
 * </pre>
 *
 * Unknown keys, wrong types, empty selectors and invalid names are errors naming the JSON path and
 * the fix. Services come from {@code canaryService}/{@code stableService}, the total from {@code
 * trafficRouting.maxTrafficWeight} (default 100), managed route names from {@code
 * trafficRouting.managedRoutes}.
 *
 * <h2>Behaviour</h2>
 *
 * <ul>
 *   <li>SetWeight: in every rule that routes to both the canary and the stable Service (by
 *       identity: group core, kind Service, namespace, name; any port), or exactly the {@code
 *       ruleNames}, canary = desired, experiments = their weights, stable = max - canary -
 *       experiments. Experiment backends are added with the port of the experiment Service that
 *       matches the stable backendRef's port (else its only port) and removed when Argo stops
 *       sending them. Only those weights change; an unchanged route is not written.
 *   <li>SetHeaderRoute (HTTPRoute/GRPCRoute with useHeaderRoutes): one managed rule per split rule,
 *       named {@code <name>}, {@code <name>-1}... where the served schema has rule names.
 *   <li>SetMirrorRoute (HTTPRoute with useHeaderRoutes only; other kinds cannot express Argo's HTTP
 *       matches and are skipped): one managed rule with Argo's matches, the stable backend, and a
 *       RequestMirror filter to canary ({@code percent} only where the schema has it; a partial
 *       mirror the schema cannot express is an error, never a silent 100%).
 *   <li>RemoveManagedRoutes: removes this Rollout's managed rules and experiment backends (their
 *       weight returns to stable); keeps its in-progress label reference while its weight is above
 *       0 (Argo's full promotion calls RemoveManagedRoutes then SetWeight(&gt;0) on every
 *       reconcile), released by the SetWeight(0) that ends every canary.
 *   <li>VerifyWeight: Verified when every route's spec carries the weights and, in mode {@code
 *       status}, every spec.parentRef has a status.parents entry whose Accepted condition is True
 *       for the route's current generation. Routes whose controller never writes status (some
 *       meshes) need {@code verifyWeight: spec}. NotImplemented only with {@code off}.
 *   <li>Bookkeeping: annotation {@code weighbridge.io/managed} on each route we change, per
 *       Rollout: experiment backends and managed rules (name, fingerprint) we added, and the label
 *       we hold. The in-progress label is set while any Rollout in it is active and removed when
 *       the last one is done.
 *   <li>Drift: while a canary is in progress its routes are watched; weights someone else changes
 *       are restored promptly through the same locked path (at most once per {@code
 *       driftMinInterval} per route). Watching stops at the SetWeight that finds the canary done,
 *       or after {@code idleRolloutTimeout} without calls.
 * </ul>
 */
package io.weighbridge.domain.routing;
