package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
)

// tokenRefresh exchanges a refresh token. Give it as "-" to read it from
// stdin, so that it does not show in the process list.
func tokenRefresh(ctx context.Context, c *cli, args []string) error {
	ttl := durationFlag(c.fs, "ttl", "lifetime of the new access token (default: the app's)")
	key := c.fs.String("idempotency-key", "", "retry key: the same refresh token and key within 30s get the same answer")
	pos, err := c.parse(args, "REFRESH_TOKEN")
	if err != nil {
		return err
	}
	raw, err := c.readToken(pos[0])
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RefreshToken(ctx, &tokendv1.RefreshTokenRequest{RefreshToken: raw, Ttl: optDur(*ttl), IdempotencyKey: *key})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

// tokenRevoke revokes an access token by id, a refresh token's family, or a
// subject. A refresh token given as "-" is read from stdin.
func tokenRevoke(ctx context.Context, c *cli, args []string) error {
	appID := c.fs.String("app", "", "app id (required)")
	tokenID := c.fs.String("token-id", "", "revoke the access token with this id (jti)")
	subject := c.fs.String("subject", "", "revoke every refresh family and access token of this subject")
	refresh := c.fs.String("refresh-token", "", "revoke this refresh token's family and its access tokens (- reads it from stdin)")
	reason := c.fs.String("reason", "", "why, for the audit trail")
	if _, err := c.parse(args); err != nil {
		return err
	}
	req := &tokendv1.RevokeTokenRequest{AppId: *appID, Reason: *reason}
	n := 0
	if *tokenID != "" {
		n++
		req.Target = &tokendv1.RevokeTokenRequest_TokenId{TokenId: *tokenID}
	}
	if *subject != "" {
		n++
		req.Target = &tokendv1.RevokeTokenRequest_Subject{Subject: *subject}
	}
	if *refresh != "" {
		n++
		raw, err := c.readToken(*refresh)
		if err != nil {
			return err
		}
		req.Target = &tokendv1.RevokeTokenRequest_RefreshToken{RefreshToken: raw}
	}
	switch {
	case *appID == "":
		return usageError{"token revoke: --app is required"}
	case n != 1:
		return usageError{fmt.Sprintf("token revoke: give exactly one of --token-id, --subject, --refresh-token (got %d)", n)}
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RevokeToken(ctx, req)
		if err != nil {
			return err
		}
		// Printed by hand: protojson would omit a zero count.
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]int64{"revokedRefreshTokens": resp.GetRevokedRefreshTokens()})
	})
}
