package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/tokend/tokend/client"
	tokendv1 "github.com/tokend/tokend/gen/tokend/v1"
	"github.com/tokend/tokend/server/token"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// cli is one admin command invocation.
type cli struct {
	fs     *flag.FlagSet
	addr   *string
	tls    *clientTLS
	stdin  io.Reader
	stdout io.Writer
}

func newCLI(name string, stdin io.Reader, stdout, stderr io.Writer) *cli {
	fs := flag.NewFlagSet("tokend "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &cli{fs: fs, addr: fs.String("addr", env("ADDR", "127.0.0.1:7443"), "tokend gRPC address (TOKEND_ADDR)"), tls: addClientTLSFlags(fs), stdin: stdin, stdout: stdout}
}

// parse parses flags anywhere among the arguments and returns the
// positional ones, checking their count.
func (c *cli) parse(args []string, positional ...string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, err
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if len(pos) != len(positional) {
		return nil, usageError{fmt.Sprintf("%s: want arguments %v, got %q", c.fs.Name(), positional, pos)}
	}
	return pos, nil
}

func (c *cli) client() (*client.Client, error) {
	key := os.Getenv("TOKEND_API_KEY")
	if key == "" {
		key = os.Getenv("TOKEND_ADMIN_KEY")
	}
	tlsCfg, err := c.tls.config()
	if err != nil {
		return nil, err
	}
	if key == "" && !c.tls.hasClientCert() {
		return nil, errors.New("set TOKEND_API_KEY to an API key of a caller (the admin key printed at first start), or give an mTLS client certificate (--tls-cert, --tls-key)")
	}
	var opts []client.Option
	if key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	if tlsCfg != nil {
		opts = append(opts, client.WithTLS(tlsCfg))
	}
	return client.New(*c.addr, opts...)
}

func (c *cli) print(m proto.Message) error {
	// protojson's own indentation is deliberately unstable; re-indent with
	// encoding/json so that scripts and golden files see stable output.
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = c.stdout.Write(out.Bytes())
	return err
}

// withClient connects, runs fn and closes.
func (c *cli) withClient(fn func(*client.Client) error) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(cl)
}

func admin(ctx context.Context, group string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("%s: missing subcommand", group)}
	}
	sub, rest := args[0], args[1:]
	c := newCLI(group+" "+sub, stdin, stdout, stderr)
	cmds := map[string]func(context.Context, *cli, []string) error{
		"app create": appCreate, "app list": appList, "app get": appGet, "app update": appUpdate,
		"app rotate-key": appRotateKey, "app keys": appKeys,
		"app revoke-key": appRevokeKey, "app register-key": appRegisterKey,
		"token issue": tokenIssue, "token validate": tokenValidate, "token inspect": tokenInspect,
		"token refresh": tokenRefresh, "token revoke": tokenRevoke,
		"caller create": callerCreate, "caller list": callerList, "caller delete": callerDelete,
		"caller rotate-key": callerRotateKey, "caller new-key": callerNewKey,
	}
	fn, ok := cmds[group+" "+sub]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", group+" "+sub)}
	}
	return fn(ctx, c, rest)
}

func durationFlag(fs *flag.FlagSet, name, usage string) *time.Duration {
	return fs.Duration(name, 0, usage)
}

func optDur(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func appCreate(ctx context.Context, c *cli, args []string) error {
	name := c.fs.String("name", "", "app name (required)")
	desc := c.fs.String("description", "", "description")
	region := c.fs.String("region", "", "region label")
	alg := c.fs.String("algorithm", "", "key algorithm: ES256 (default), EdDSA, RS256, PS256")
	maxTTL := durationFlag(c.fs, "max-ttl", "longest token lifetime (default 24h)")
	defTTL := durationFlag(c.fs, "default-ttl", "token lifetime when none is asked (default 1h)")
	keyOut := c.fs.String("key-out", "", "file to write the private key to (default ./<app_id>.pem); mode 0600, never overwritten")
	if _, err := c.parse(args); err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.CreateApp(ctx, &tokendv1.CreateAppRequest{
			Name: *name, Description: *desc, Region: *region, Algorithm: *alg,
			MaxTokenTtl: optDur(*maxTTL), DefaultTokenTtl: optDur(*defTTL),
		})
		if err != nil {
			return err
		}
		return c.savePrivateKey(resp, &resp.PrivateKeyPem, *keyOut, resp.GetApp().GetAppId(), resp.GetKey().GetKeyId())
	})
}

// savePrivateKey writes the private key of an answer to path (default
// ./<name>.pem), blanks it in the answer, and prints the answer.
func (c *cli) savePrivateKey(resp proto.Message, pemField *string, path, name, keyID string) error {
	if path == "" {
		path = name + ".pem"
	}
	if err := writeSecretFile(path, *pemField); err != nil {
		return fmt.Errorf("key %s was created but its private key could not be saved: %w", keyID, err)
	}
	*pemField = ""
	if err := c.print(resp); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "private key of %s written to %s (shown only once; keep it safe)\n", keyID, path)
	return nil
}

// writeSecretFile creates path with mode 0600; it never overwrites.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(content)
	return errors.Join(werr, f.Sync(), f.Close())
}

func appList(ctx context.Context, c *cli, args []string) error {
	size := c.fs.Int("page-size", 0, "apps per page (default 100)")
	page := c.fs.String("page-token", "", "next_page_token of a previous list")
	if _, err := c.parse(args); err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.ListApps(ctx, &tokendv1.ListAppsRequest{PageSize: int32(*size), PageToken: *page})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

func appGet(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse(args, "APP_ID")
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.GetApp(ctx, &tokendv1.GetAppRequest{AppId: pos[0]})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

func appUpdate(ctx context.Context, c *cli, args []string) error {
	enable := c.fs.Bool("enable", false, "enable the app")
	disable := c.fs.Bool("disable", false, "disable the app")
	desc := c.fs.String("description", "", "new description")
	maxTTL := durationFlag(c.fs, "max-ttl", "new longest token lifetime")
	defTTL := durationFlag(c.fs, "default-ttl", "new default token lifetime")
	pos, err := c.parse(args, "APP_ID")
	if err != nil {
		return err
	}
	req := &tokendv1.UpdateAppRequest{AppId: pos[0], MaxTokenTtl: optDur(*maxTTL), DefaultTokenTtl: optDur(*defTTL)}
	switch {
	case *enable && *disable:
		return usageError{"--enable and --disable exclude each other"}
	case *enable || *disable:
		req.Enabled = proto.Bool(*enable)
	}
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == "description" {
			req.Description = desc
		}
	})
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.UpdateApp(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

func appRotateKey(ctx context.Context, c *cli, args []string) error {
	alg := c.fs.String("algorithm", "", "algorithm of the new key (default: the current one)")
	delay := c.fs.String("activation-delay", "", "time the new key is published before it signs (default: the JWKS max-age; 0s: at once)")
	keyOut := c.fs.String("key-out", "", "file to write the private key to (default ./<key_id>.pem)")
	pos, err := c.parse(args, "APP_ID")
	if err != nil {
		return err
	}
	req := &tokendv1.RotateAppKeyRequest{AppId: pos[0], Algorithm: *alg}
	if *delay != "" {
		d, err := time.ParseDuration(*delay)
		if err != nil {
			return usageError{fmt.Sprintf("--activation-delay: %v", err)}
		}
		req.ActivationDelay = durationpb.New(d)
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.RotateAppKey(ctx, req)
		if err != nil {
			return err
		}
		return c.savePrivateKey(resp, &resp.PrivateKeyPem, *keyOut, resp.GetKey().GetKeyId(), resp.GetKey().GetKeyId())
	})
}

func appKeys(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse(args, "APP_ID")
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.ListAppKeys(ctx, &tokendv1.ListAppKeysRequest{AppId: pos[0]})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

// claimValue parses k=v; v is read as JSON when it parses, else as a string.
func claimValue(kv string) (string, any, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", nil, usageError{fmt.Sprintf("--claim %q: want key=value", kv)}
	}
	var j any
	if err := json.Unmarshal([]byte(v), &j); err == nil {
		return k, j, nil
	}
	return k, v, nil
}

func tokenIssue(ctx context.Context, c *cli, args []string) error {
	appID := c.fs.String("app", "", "app id (required)")
	subject := c.fs.String("subject", "", "subject (required)")
	ttl := durationFlag(c.fs, "ttl", "token lifetime (default: the app's)")
	nbf := durationFlag(c.fs, "not-before-delay", "delay before the token is usable")
	refresh := c.fs.Bool("refresh", false, "also issue a refresh token")
	var aud, claims stringList
	c.fs.Var(&aud, "aud", "audience (repeatable)")
	c.fs.Var(&claims, "claim", "extra claim key=value, value as JSON or string (repeatable)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	req := &tokendv1.IssueTokenRequest{
		AppId: *appID, Subject: *subject, Ttl: optDur(*ttl), NotBeforeDelay: optDur(*nbf),
		Audience: aud, IssueRefreshToken: *refresh,
	}
	if len(claims) > 0 {
		m := map[string]any{}
		for _, kv := range claims {
			k, v, err := claimValue(kv)
			if err != nil {
				return err
			}
			m[k] = v
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			return usageError{fmt.Sprintf("--claim: %v", err)}
		}
		req.Claims = s
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.IssueToken(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

// readToken returns the token argument, or stdin when it is "-".
func (c *cli) readToken(arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(c.stdin, 1<<20))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func tokenValidate(ctx context.Context, c *cli, args []string) error {
	appID := c.fs.String("app", "", "expected app id")
	aud := c.fs.String("aud", "", "expected audience")
	pos, err := c.parse(args, "TOKEN")
	if err != nil {
		return err
	}
	raw, err := c.readToken(pos[0])
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.ValidateToken(ctx, &tokendv1.ValidateTokenRequest{Token: raw, AppId: *appID, Audience: *aud})
		if err != nil {
			return err
		}
		if err := c.print(resp); err != nil {
			return err
		}
		return client.InvalidTokenError(resp)
	})
}

func tokenInspect(_ context.Context, c *cli, args []string) error {
	pos, err := c.parse(args, "TOKEN")
	if err != nil {
		return err
	}
	raw, err := c.readToken(pos[0])
	if err != nil {
		return err
	}
	header, claims, err := token.Inspect(raw)
	if err != nil {
		return err
	}
	out := map[string]any{"header": header, "claims": claims, "verified": false}
	for _, name := range []string{"iat", "nbf", "exp"} {
		if n, ok := claims[name].(float64); ok {
			out[name+"_time"] = time.Unix(int64(n), 0).UTC().Format(time.RFC3339)
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "(decoded only: the signature was NOT verified; use \"tokend token validate\")")
	return nil
}

func callerCreate(ctx context.Context, c *cli, args []string) error {
	name := c.fs.String("name", "", "caller name (required)")
	mtls := c.fs.String("mtls-identity", "", "mTLS identity (URI or DNS SAN)")
	var roles, apps stringList
	c.fs.Var(&roles, "role", "role: admin, issuer or validator (repeatable)")
	c.fs.Var(&apps, "app", "app id the caller may act on (repeatable; none: every app)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.CreateCaller(ctx, &tokendv1.CreateCallerRequest{Name: *name, Roles: roles, AppIds: apps, MtlsIdentity: *mtls})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

func callerList(ctx context.Context, c *cli, args []string) error {
	if _, err := c.parse(args); err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		resp, err := cl.ListCallers(ctx, &tokendv1.ListCallersRequest{})
		if err != nil {
			return err
		}
		return c.print(resp)
	})
}

func callerDelete(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse(args, "CALLER_ID")
	if err != nil {
		return err
	}
	return c.withClient(func(cl *client.Client) error {
		if _, err := cl.DeleteCaller(ctx, &tokendv1.DeleteCallerRequest{CallerId: pos[0]}); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "deleted", strconv.Quote(pos[0]))
		return nil
	})
}
