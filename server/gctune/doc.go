// Package gctune keeps the Go garbage collector from running too often on
// a small heap.
//
// With GOGC=100 the runtime starts a collection whenever the heap has
// grown by its live size since the last one (and never waits for less
// than 4 MiB). tokend's live heap is a few MiB (keys, policies, the
// validation cache) while each call allocates about 9 KiB of short-lived
// garbage, mostly in grpc-go: at 6 000 ValidateToken calls a second that
// is a collection every 30 ms. Each runs for a few milliseconds with a
// quarter of the CPU and mark assists on the calls that allocate, and on
// two cores that is where the 99th percentile of latency lives.
//
// A Tuner sets GOGC after every collection so that the next one starts
// once the program has allocated at least a given headroom since: GOGC
// stays at its base value (100) once the live heap is as large as the
// headroom, and rises above it only while the heap is smaller. The heap
// then peaks at live + headroom, or at what GOGC=100 gives when that is
// more; GOMEMLIMIT, when set, still bounds it. The operator's GOGC, when
// set, is left alone.
package gctune
