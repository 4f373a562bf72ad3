// Package metrics owns tokend's domain metrics in Prometheus: tokens issued,
// validated and refreshed by app and outcome, validation failures by
// reason, refresh token reuse, revocations by kind, key rotations,
// validation cache lookups, store latency by operation, store health and
// the denylist size. Every series is named tokend_* and every label is
// bounded: an app id only once the app is known to exist, an outcome from
// a closed set, never a subject, a token id or a token.
//
// The domain packages never import Prometheus: each declares the small
// interface or hook it calls (tokenapi.Recorder, keys.RotationObserver,
// the validation cache's hit and miss counters), and the server wires a
// *Metrics into them. Counters on the hot path (ValidateToken) are resolved
// once per app and reason, so counting allocates nothing.
package metrics
