#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: a cluster in a temp dir on a free
# loopback port, fsync off, removed on exit. Never touches another cluster
# (such as a stock one on 5432).
#
# Usage:
#   scripts/pg-test.sh install          install postgresql-15 from Debian when
#                                       missing (root; what .ci/run does)
#   scripts/pg-test.sh run CMD [ARG...] start a throwaway server, run CMD with
#                                       TOKEND_TEST_POSTGRES_DSN exported, stop
#                                       and remove the server, exit with CMD's
#                                       status
#
# "run" runs CMD without a server, saying so, when no PostgreSQL binaries
# are found (the PostgreSQL tests then skip; under CI=true it fails
# instead), and uses the server already
# named by TOKEND_TEST_POSTGRES_DSN when that is set. PGBIN overrides the
# binaries' directory (default: the newest /usr/lib/postgresql/*/bin, else
# initdb on PATH). As root the server runs as the postgres user.
set -euo pipefail

log() { echo "pg-test: $*" >&2 || true; }
ms() { echo $(($(date +%s%N) / 1000000)); }

install_pg() {
	if dpkg -s postgresql-15 >/dev/null 2>&1; then
		log "postgresql-15 is installed"
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		log "installing postgresql-15 needs root"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# apt-get update only when the package lists cannot install it.
	apt-get install -y --no-install-recommends postgresql-15 ||
		{ apt-get update && apt-get install -y --no-install-recommends postgresql-15; }
}

find_bin() {
	if [ -n "${PGBIN:-}" ]; then
		[ -x "$PGBIN/initdb" ] && echo "$PGBIN"
		return 0
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

run() {
	if [ -n "${TOKEND_TEST_POSTGRES_DSN:-}" ]; then
		log "using the PostgreSQL server of TOKEND_TEST_POSTGRES_DSN"
		exec "$@"
	fi
	local bin
	bin=$(find_bin)
	if [ -z "$bin" ]; then
		if [ -n "${CI:-}" ]; then
			log "no PostgreSQL binaries found, and CI must run the PostgreSQL tests (scripts/pg-test.sh install)"
			exit 1
		fi
		log "no PostgreSQL binaries found (/usr/lib/postgresql/*/bin or initdb on PATH):"
		log "the PostgreSQL tests will SKIP. Install them with: sudo scripts/pg-test.sh install"
		exec "$@"
	fi

	local started
	started=$(ms)
	tmp=$(mktemp -d /tmp/tokend-pg.XXXXXX)
	as=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$tmp"
		as=(runuser -u postgres --)
	fi
	trap stop EXIT
	trap 'stop 130' INT
	trap 'stop 143' TERM
	"${as[@]}" "$bin/initdb" -D "$tmp/data" -U postgres -A trust --no-sync >"$tmp/initdb.log" 2>&1 ||
		{ cat "$tmp/initdb.log" >&2; log "initdb failed"; exit 1; }

	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		if "${as[@]}" "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w -t 30 -o \
			"-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >/dev/null; then
			pgctl=("${as[@]}" "$bin/pg_ctl" -D "$tmp/data")
			export TOKEND_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			log "throwaway PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (started in $(($(ms) - started)) ms): TOKEND_TEST_POSTGRES_DSN=$TOKEND_TEST_POSTGRES_DSN"
			set +e
			"$@"
			rc=$?
			set -e
			exit "$rc"
		fi
		log "start on port $port failed (attempt $attempt):"
		tail -5 "$tmp/log" >&2 || true
	done
	log "could not start PostgreSQL"
	exit 1
}

# stop stops and removes the server, then exits with the status of the
# command (or the one given, after a signal). It must run even when stderr
# is a closed pipe (its reader killed by the same signal): SIGPIPE is
# ignored here.
stop() {
	local rc=$?
	[ $# -eq 0 ] || rc=$1
	trap - EXIT INT TERM
	trap '' PIPE
	if [ -n "${pgctl:-}" ]; then
		local t
		t=$(ms)
		"${pgctl[@]}" -m fast -w stop >/dev/null 2>&1 || "${pgctl[@]}" -m immediate -w stop >/dev/null 2>&1 || true
		log "stopped and removed in $(($(ms) - t)) ms"
	fi
	rm -rf "$tmp"
	exit "$rc"
}

case "${1:-}" in
install) install_pg ;;
run)
	shift
	[ $# -gt 0 ] || { log "usage: scripts/pg-test.sh run CMD [ARG...]"; exit 2; }
	run "$@"
	;;
*)
	sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
