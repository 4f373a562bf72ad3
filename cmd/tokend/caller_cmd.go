package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/auth"
)

// callerRotateKey gives a caller a new API key and prints it once.
func callerRotateKey(ctx context.Context, c *cli, args []string) error {
	grace := c.fs.String("grace", "", "how long the previous keys keep working (default 24h; 0s: they stop at once)")
	pos, err := c.parse(args, "CALLER_ID")
	if err != nil {
		return err
	}
	req := &tokendv1.RotateCallerKeyRequest{CallerId: pos[0]}
	if *grace != "" {
		d, err := time.ParseDuration(*grace)
		if err != nil {
			return usageError{fmt.Sprintf("--grace: %v", err)}
		}
		req.GracePeriod = durationpb.New(d)
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RotateCallerKey(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

// callerNewKey makes an API key and its SHA-256 for a callers file,
// offline: the key goes to the caller, only the hash into the file.
func callerNewKey(_ context.Context, c *cli, args []string) error {
	if _, err := c.parse(args); err != nil {
		return err
	}
	key, hash, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "api_key: %s\napi_key_sha256: %s\n", key, hash)
	return nil
}
