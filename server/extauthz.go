package server

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/server/extauthz"
)

// newExtAuthz builds the Envoy ext_authz Check service over the server's
// validator, under the policy file of Config.ExtAuthzPolicy (none: the
// default policy). A bad policy fails the start with the field named.
func newExtAuthz(policyFile string, validator extauthz.TokenValidator, log *slog.Logger, reg prometheus.Registerer) (*extauthz.Server, error) {
	policy := extauthz.DefaultPolicy()
	if policyFile != "" {
		var err error
		if policy, err = extauthz.LoadPolicy(policyFile); err != nil {
			return nil, fmt.Errorf("config: extauthz-policy: %w", err)
		}
	}
	return extauthz.NewServer(validator, policy, log, extauthz.WithMetrics(reg))
}
