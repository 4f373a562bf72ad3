// Package gcfloor keeps the Go garbage collector from running on a tiny
// heap.
//
// With GOGC=100 the runtime starts a collection whenever the heap has
// grown by its live size since the last one, and never waits for less
// than 4 MiB. tokend's live heap is a few MiB (keys, policies, the
// validation cache) while each call allocates about 10 KiB of short-lived
// garbage, mostly in grpc-go: at 6 000 ValidateToken calls a second that
// is one collection every 30 ms. Each one runs for a few milliseconds
// with a quarter of the CPU and mark assists on the calls that allocate,
// and on two cores that is where the 99th percentile of latency lives.
//
// A Floor sets GOGC after every collection so that the next one starts
// when the heap reaches at least the floor: GOGC stays at its base value
// (100) once the live heap is half the floor or more, and rises above it
// only while the heap is small. Memory use is then at most about the
// floor, or what GOGC=100 would use when that is more; GOMEMLIMIT, when
// set, still bounds it. The operator's GOGC, when set, is left alone.
package gcfloor
