// Package extauthz serves Envoy's external authorization API
// (envoy.service.auth.v3.Authorization/Check) so that Envoy and Istio
// sidecars can put tokend in front of a service without code: Check reads
// the bearer token of the proxied HTTP request, validates it with the
// server's token.Validator (the same instance, rules and caches as
// ValidateToken), applies the per-route Policy (required audience, allowed
// apps) and answers Envoy with either headers for the upstream or an RFC
// 6750 denial (401 invalid_token, 403 insufficient_scope).
//
// It owns the policy file (Policy, LoadPolicy) and its compiled route
// table. It is an adapter like tokenapi: it may import gRPC and the
// go-control-plane types; the domain packages (token, keys, storage) never
// import it. Caller errors become status errors through tokenapi.ToStatus.
package extauthz
