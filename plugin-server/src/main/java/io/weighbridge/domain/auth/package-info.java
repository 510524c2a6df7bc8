/**
 * Who may call plugin-server: the {@link io.weighbridge.domain.auth.Authenticator} port (a bearer
 * token in, a verified {@link io.weighbridge.domain.auth.Identity} out; the Kubernetes adapter
 * implements it with a TokenReview) and the {@link io.weighbridge.domain.auth.CallerGate} that
 * caches verified tokens briefly and admits only the configured {@link
 * io.weighbridge.domain.auth.ServiceAccount}s. No gRPC, no Kubernetes types.
 */
package io.weighbridge.domain.auth;
