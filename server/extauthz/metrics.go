package extauthz

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/server/token"
)

// decisions counts Check decisions by HTTP status and reason. The label
// children are made once, so counting allocates nothing.
type decisions struct {
	vec      *prometheus.CounterVec
	counters [4][token.ReasonRevoked + 1]prometheus.Counter
}

func newDecisions(reg prometheus.Registerer) (*decisions, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokend_extauthz_checks_total",
		Help: "Envoy ext_authz Check decisions, by the HTTP status answered (200 allowed, 401, 403) and reason.",
	}, []string{"status", "reason"})
	if err := reg.Register(vec); err != nil {
		return nil, fmt.Errorf("extauthz: register metrics: %w", err)
	}
	d := &decisions{vec: vec}
	for kind := range d.counters {
		for r := range d.counters[kind] {
			k, reason := denial(kind), token.Reason(r)
			if (k == allowed || k == denyNoToken) && reason != token.ReasonNone ||
				(k == denyInvalid || k == denyScope) && reason == token.ReasonNone {
				continue // never counted
			}
			d.counters[kind][r] = vec.WithLabelValues(httpStatus(k), reasonLabel(k, reason))
		}
	}
	return d, nil
}

// count records one decision; a nil d counts nothing.
func (d *decisions) count(kind denial, reason token.Reason) {
	if d == nil {
		return
	}
	if int(reason) < len(d.counters[kind]) && d.counters[kind][reason] != nil {
		d.counters[kind][reason].Inc()
		return
	}
	d.vec.WithLabelValues(httpStatus(kind), reasonLabel(kind, reason)).Inc()
}

func httpStatus(kind denial) string {
	switch kind {
	case allowed:
		return "200"
	case denyScope:
		return "403"
	}
	return "401"
}
