package server

import "runtime"

// StreamWorkers is the number of goroutines grpc-go keeps to run calls
// (grpc.NumStreamWorkers): 32 per CPU, at least 64.
//
// By default grpc-go starts a goroutine per call. Its stack starts small
// and grows, by copying, as the call goes down the interceptor chain, the
// handler and protobuf: on the development machine runtime.newstack and
// copystack took 18-25% of tokend's CPU under a ValidateToken load
// (docs/benchmarks.md). Worker goroutines keep their grown stacks from one
// call to the next. When every worker is busy, grpc-go starts a goroutine
// for the call as before, so the number bounds nothing. The bare server of
// the benchmark (bench/bare) uses the same setting, so that the floor's
// ratio to it measures the interceptor chain alone.
func StreamWorkers() uint32 { return uint32(max(64, 32*runtime.GOMAXPROCS(0))) }
