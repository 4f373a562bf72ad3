// Package healthcheck watches the store: a Checker pings it periodically
// and reports each change between reachable and unreachable, which the
// server turns into the gRPC health status of its services, the
// tokend_store_up gauge and /readyz. It knows neither gRPC nor Prometheus.
package healthcheck
