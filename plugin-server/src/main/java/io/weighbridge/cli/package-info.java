/**
 * The operator CLI in the plugin-server jar: {@code status} (canaries in progress, live weights,
 * drift, analyzer verdicts), {@code plan} (a dry run of SetWeight) and {@code connector-config}
 * (the Argo Rollouts registration). {@link io.weighbridge.server.Main} hands over to {@link
 * io.weighbridge.cli.Cli} when the first argument names a command.
 *
 * <p>The CLI re-implements no routing logic: {@code plan} and the drift column of {@code status}
 * run the real engine ({@link io.weighbridge.domain.routing.GatewayApiTrafficRouter}) on a {@link
 * io.weighbridge.cli.PlanningRouteClient}, which reads the live routes through the Kubernetes
 * adapter and records patches instead of sending them.
 */
package io.weighbridge.cli;
