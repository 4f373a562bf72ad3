// Command bare is the reference of `make bench`: a grpc-go server with
// nothing but the standard gRPC health service and reflection (which ghz
// uses to find the method), no interceptor, no custom codec, default
// options but for tokend's stream workers (server.StreamWorkers: a
// transport setting, not part of the chain). The benchmark measures
// grpc.health.v1.Health/Check on it and on tokend with the same ghz
// settings; their ratio is the cost of tokend's interceptor chain.
//
//	bare -listen 127.0.0.1:0
//
// It prints its address on stdout once it listens, and serves until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tokend/tokend/server"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.NumStreamWorkers(server.StreamWorkers()))
	healthpb.RegisterHealthServer(srv, health.NewServer()) // SERVING for ""
	reflection.Register(srv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	fmt.Println(lis.Addr().String())
	return srv.Serve(lis)
}
