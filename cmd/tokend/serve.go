package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tokend/tokend/server"
	"github.com/tokend/tokend/server/gcfloor"
)

// env returns the TOKEND_* environment value of name, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("TOKEND_" + name); ok {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// One definition per setting (settings.go); flag > env > file > default.
	o, err := loadServeOptions("tokend serve", args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	h, err := o.logHandler(stderr)
	if err != nil {
		return err
	}
	log := slog.New(h)
	if f := gcfloor.Start(o.gcHeapFloor); f != nil {
		defer f.Stop()
		log.Debug("garbage collector heap floor set", "bytes", f.Bytes())
	}
	srv, err := server.New(ctx, o.cfg, log, server.WithVersion(version))
	if err != nil {
		return err
	}
	if key := srv.GeneratedAdminKey(); key != "" {
		// Shown once, on the terminal, never through the logger.
		fmt.Fprintf(stdout, `
tokend: this is a new store, so an admin API key was generated. It is shown
only now; tokend keeps only its hash. Set TOKEND_ADMIN_KEY to choose your own.

    export TOKEND_API_KEY=%s

    tokend app create --name demo --addr %s
    grpcurl -plaintext -H "authorization: Bearer $TOKEND_API_KEY" %s list

`, key, srv.GRPCAddr(), srv.GRPCAddr())
	}
	return srv.Serve(ctx)
}
