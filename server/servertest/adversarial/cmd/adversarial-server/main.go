// Command adversarial-server runs a real tokend server (package server: the
// wiring, interceptor chain and request codec of "tokend serve") on a data
// dir seeded with the adversarial fixture, with its clock fixed at the
// fixture's now, for the adversarial-corpus tests of the TypeScript and
// Python clients. TEST ONLY: it trusts the published keys of
// testdata/adversarial, and it listens on loopback only.
//
//	adversarial-server --corpus testdata/adversarial --data-dir DIR [--listen 127.0.0.1:0]
//
// TOKEND_ADMIN_KEY is the admin API key. Like "tokend serve" it logs JSON
// to stderr, including the "tokend serving" line with the bound gRPC and
// HTTP addresses, and stops on SIGTERM. The data dir must be empty.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/servertest/adversarial"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "adversarial-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("adversarial-server", flag.ContinueOnError)
	corpus := fs.String("corpus", "", "the testdata/adversarial directory (default: found from the working directory)")
	dataDir := fs.String("data-dir", "", "an empty directory for the seeded store (required)")
	listen := fs.String("listen", "127.0.0.1:0", "gRPC listen address (loopback only)")
	httpListen := fs.String("http-listen", "127.0.0.1:0", "HTTP listen address (loopback only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	for _, a := range []string{*listen, *httpListen} {
		if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("listen address %q: loopback IP addresses only (this server trusts published test keys)", a)
		}
	}
	dir := *corpus
	if dir == "" {
		var err error
		if dir, err = adversarial.Dir(); err != nil {
			return err
		}
	}
	f, err := adversarial.LoadFixture(dir)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(*dataDir); err != nil || len(entries) > 0 {
		return fmt.Errorf("--data-dir %q must be an existing empty directory", *dataDir)
	}
	if err := adversarial.SeedDataDir(ctx, *dataDir, f); err != nil {
		return err
	}
	cfg := server.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir = *listen, *httpListen, *dataDir
	cfg.AdminKey = os.Getenv("TOKEND_ADMIN_KEY")
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	now := f.Now
	srv, err := server.New(ctx, cfg, log, server.WithClock(func() time.Time { return now }))
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}
