package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/keys"
)

// appRevokeKey: tokend app revoke-key APP_ID KEY_ID [--reason R]
func appRevokeKey(ctx context.Context, c *cli, args []string) error {
	reason := c.fs.String("reason", "", "why, for the audit log")
	pos, err := c.parse(args, "APP_ID", "KEY_ID")
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RevokeAppKey(ctx, &tokendv1.RevokeAppKeyRequest{AppId: pos[0], KeyId: pos[1], Reason: *reason})
		if err != nil {
			return err
		}
		if err := c.print(resp); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "key %s revoked: tokens it signed no longer validate here; verifiers caching the JWKS drop it when their cache expires\n", resp.GetKey().GetKeyId())
		return nil
	})
}

// appRegisterKey: tokend app register-key APP_ID --algorithm A --public-key-file F
func appRegisterKey(ctx context.Context, c *cli, args []string) error {
	alg := c.fs.String("algorithm", "", "algorithm of the key: ES256, EdDSA, RS256 or PS256 (required)")
	file := c.fs.String("public-key-file", "", "file holding the public key, as a JWK or a PEM \"PUBLIC KEY\" (required; \"-\" reads stdin)")
	pos, err := c.parse(args, "APP_ID")
	if err != nil {
		return err
	}
	if *alg == "" || *file == "" {
		return usageError{"app register-key: --algorithm and --public-key-file are required"}
	}
	pub, err := c.readPublicKey(*file)
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RegisterAppKey(ctx, &tokendv1.RegisterAppKeyRequest{AppId: pos[0], Algorithm: *alg, PublicKey: pub})
		if err != nil {
			return err
		}
		if err := c.print(resp); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "registered: the backend signs with the private key and puts \"kid\": %q in the token header\n", resp.GetKey().GetKeyId())
		return nil
	})
}

// readPublicKey reads a public key file (or stdin for "-"), bounded.
func (c *cli) readPublicKey(path string) (string, error) {
	var r io.Reader = c.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, keys.MaxPublicKeySize+1))
	if err != nil {
		return "", err
	}
	if len(b) > keys.MaxPublicKeySize {
		return "", fmt.Errorf("%s: larger than %d bytes: not a public key", path, keys.MaxPublicKeySize)
	}
	return string(b), nil
}

// keysCmd runs "tokend keys SUBCOMMAND": offline maintenance of the key
// store, run on the data dir with no server running.
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rewrap" {
		fmt.Fprint(stderr, usage)
		return usageError{"keys: want the subcommand rewrap"}
	}
	return keysRewrap(ctx, args[1:], stdout, stderr)
}

// keysRewrap: tokend keys rewrap --data-dir D [--new-kek-file F]
func keysRewrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokend keys rewrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: tokend keys rewrap --data-dir DIR [--new-kek-file FILE]

Re-seals every stored private key with a new key-encryption key (KEK).
Offline maintenance: stop every tokend server on this store first.

The current KEK comes from TOKEND_KEK, TOKEND_KEK_FILE (--kek-file) or the
data dir's kek file, as for "tokend serve". The new KEK comes from
TOKEND_NEW_KEK (base64 of 32 random bytes) or --new-kek-file. When the
current KEK was the data dir's kek file, that file then holds the new KEK;
otherwise start the server with the new KEK. Safe to run again after an
interruption.

`)
		fs.PrintDefaults()
	}
	dataDir := fs.String("data-dir", env("DATA_DIR", "data"), "data directory of the embedded store (TOKEND_DATA_DIR)")
	store := fs.String("store", env("STORE", ""), "store backend: empty for the SQLite file in the data dir, or a postgres:// URL (TOKEND_STORE)")
	kekFile := fs.String("kek-file", env("KEK_FILE", ""), "file holding the current KEK (TOKEND_KEK_FILE); TOKEND_KEK holds it inline")
	newKEKFile := fs.String("new-kek-file", "", "file holding the new KEK; TOKEND_NEW_KEK holds it inline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("keys rewrap takes no arguments, got %q", fs.Args())}
	}
	newInline := os.Getenv("TOKEND_NEW_KEK")
	var (
		newKEK *keys.KEK
		err    error
	)
	switch {
	case newInline != "" && *newKEKFile != "":
		return usageError{"keys rewrap: set TOKEND_NEW_KEK or --new-kek-file, not both"}
	case newInline != "":
		if newKEK, err = keys.ParseKEK(newInline); err != nil {
			return fmt.Errorf("TOKEND_NEW_KEK: %w", err)
		}
	case *newKEKFile != "":
		if newKEK, err = keys.LoadKEKFile(*newKEKFile); err != nil {
			return err
		}
	default:
		return usageError{"keys rewrap: give the new KEK in TOKEND_NEW_KEK or --new-kek-file"}
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.KEKFile, cfg.KEK = *dataDir, *store, *kekFile, os.Getenv("TOKEND_KEK")
	rep, err := server.RewrapKEK(ctx, cfg, newKEK)
	if errors.Is(err, keys.ErrSameKEK) {
		return fmt.Errorf("keys rewrap: the new KEK is the current one (%s)", newKEK.ID())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rewrapped %d private keys of %d apps from KEK %s to KEK %s (%d were already sealed with it)\n",
		rep.Rewrapped, rep.Apps, rep.OldKEKID, rep.NewKEKID, rep.Already)
	if rep.KEKFile != "" {
		fmt.Fprintf(stdout, "%s now holds the new KEK; the server starts with it and refuses the old one\n", rep.KEKFile)
	} else {
		fmt.Fprintln(stdout, "start the server with the new KEK (TOKEND_KEK or TOKEND_KEK_FILE); it refuses the old one")
	}
	return nil
}
