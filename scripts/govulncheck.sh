#!/usr/bin/env bash
# Runs govulncheck (pinned in tools/go.mod) on the module. It needs the Go
# vulnerability database: https://vuln.go.dev by default, or a local copy
# named by GOVULNDB (file:///path, the layout of vuln.go.dev). When the
# database cannot be reached (an offline machine: this project's build
# machines reach only the package registries), it says so and skips,
# exiting 0, unless GOVULNCHECK_REQUIRED=1. Any other failure, and any
# vulnerability found in code that tokend calls, fails.
set -euo pipefail
cd "$(dirname "$0")/.."

db=${GOVULNDB:-https://vuln.go.dev}
rc=0
out=$(go tool -modfile=tools/go.mod govulncheck -db "$db" ./... 2>&1) || rc=$?
printf '%s\n' "$out"
if ((rc != 0)) && grep -q '^govulncheck: fetching vulnerabilities' <<<"$out"; then
	echo "govulncheck: SKIPPED: the Go vulnerability database ($db) is unreachable from this machine." >&2
	echo "govulncheck: run it where vuln.go.dev is reachable, or set GOVULNDB=file:///path/to/a/copy." >&2
	if [[ ${GOVULNCHECK_REQUIRED:-0} == 1 ]]; then
		exit 1
	fi
	exit 0
fi
exit "$rc"
