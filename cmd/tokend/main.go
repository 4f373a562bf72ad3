// Command tokend is the tokend token service and its admin CLI.
//
//	tokend serve                      run the service
//	tokend config print               the effective configuration, secrets redacted
//	tokend migrate                    apply the store's schema migrations
//	tokend app create|list|get|update|rotate-key|keys|revoke-key|register-key
//	tokend keys rewrap                offline: re-seal private keys with a new KEK
//	tokend token issue|validate|inspect|refresh|revoke
//	tokend caller create|list|delete|rotate-key|new-key
//
// Run "tokend help" for the flags of each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if msg := err.Error(); !errors.Is(err, flag.ErrHelp) {
			if !strings.HasPrefix(msg, "tokend") {
				msg = "tokend: " + msg
			}
			fmt.Fprintln(os.Stderr, msg)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks errors of the command line itself (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `tokend: a gRPC token service.

Usage:
  tokend serve [flags]                 run the service (see "tokend serve -h")
  tokend config print [serve flags]    the effective configuration as YAML, secrets redacted
  tokend app create --name NAME        create an app; writes its private key to a file
  tokend app list | get ID | keys ID
  tokend app update ID [--enable|--disable] [--description D] [--max-ttl D] [--default-ttl D]
  tokend app rotate-key ID [--algorithm A] [--activation-delay D]
  tokend app revoke-key ID KEY_ID [--reason R]   emergency: the key stops validating at once
  tokend app register-key ID --algorithm A --public-key-file F   bring your own public key
  tokend keys rewrap --data-dir D [--new-kek-file F]   offline: re-seal private keys with a new KEK
  tokend token issue --app ID --subject SUB [--ttl D] [--aud A]... [--claim k=v]... [--refresh]
  tokend token refresh REFRESH_TOKEN|- [--ttl D] [--idempotency-key K]
  tokend token revoke --app ID (--token-id JTI | --subject SUB | --refresh-token T|-) [--reason R]
  tokend token validate [--app ID] [--aud A] TOKEN|-
  tokend token inspect TOKEN|-          decode without verifying
  tokend caller create --name N --role R... [--app ID]... [--mtls-identity ID] | list | delete ID
  tokend caller rotate-key ID [--grace D]   new API key; old ones work for D (default 24h; 0s: stop now)
  tokend caller new-key                 offline: an API key and its SHA-256 for a callers file
  tokend migrate [--store URL]         apply the store's schema migrations and exit
  tokend version

Admin commands talk to a running server: --addr (TOKEND_ADDR, default
127.0.0.1:7443) and the API key in TOKEND_API_KEY (or TOKEND_ADMIN_KEY), or
an mTLS client certificate (--tls-cert/--tls-key, TOKEND_CLIENT_CERT/KEY).
TLS: --tls-ca FILE (TOKEND_TLS_CA) or --tls for the system roots.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "config":
		return configCmd(rest, stdout, stderr)
	case "keys":
		return keysCmd(ctx, rest, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, stdout, stderr)
	case "app", "token", "caller":
		return admin(ctx, cmd, rest, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "tokend", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
