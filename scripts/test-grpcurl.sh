#!/usr/bin/env bash
# Runs the grpcurl block of README.md, command by command, against a real
# tokend on 127.0.0.1 and checks every answer. The README block is the test
# script: placeholder lines (APP=app_..., TOKEN=eyJ...) are replaced by the
# values the previous answers hold, and the documented addresses
# (127.0.0.1:7443 and :7080) by the test server's. `make test-grpcurl` builds
# bin/tokend and the pinned bin/grpcurl first.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PWD/bin:$PATH"
for b in tokend grpcurl; do
	[[ -x bin/$b ]] || { echo "bin/$b missing: run 'make build grpcurl'" >&2; exit 1; }
done

# --- the README block --------------------------------------------------------
readme=${README:-README.md}
mapfile -t lines < <(awk '
	/^The same with \[grpcurl\]/ { insection = 1; next }
	insection && /^```sh$/ { inblock = 1; next }
	inblock && /^```$/ { exit }
	inblock { print }
' "$readme")
[[ ${#lines[@]} -gt 0 ]] || { echo "$readme: no grpcurl block after 'The same with [grpcurl]'" >&2; exit 1; }
# Commands (continuation lines joined) and plain assignments such as H=...
# (evaluated before the first command); comments and placeholder assignments
# (VAR=something...) are dropped.
commands=() assignments=()
cmd=""
for line in "${lines[@]}"; do
	cmd+="${line%\\}"
	[[ $line == *\\ ]] && continue
	cmd="${cmd#"${cmd%%[![:space:]]*}"}"
	if [[ -z $cmd || $cmd == \#* || $cmd =~ ^[A-Z_]+=[^[:space:]]*\.\.\. ]]; then
		:
	elif [[ $cmd =~ ^[A-Z_]+= ]]; then
		assignments+=("$cmd")
	else
		commands+=("$cmd")
	fi
	cmd=""
done

# --- a real server -----------------------------------------------------------
work=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
export TOKEND_API_KEY="tkd_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
env $(env | grep -o '^TOKEND_[A-Z_]*' | sed 's/^/-u /') TOKEND_ADMIN_KEY="$TOKEND_API_KEY" \
	bin/tokend serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/stderr" &
pid=$!
touch "$work/stderr"
serving=""
for _ in $(seq 200); do # up to 20 s
	serving=$(grep -m1 '"msg":"tokend serving"' "$work/stderr" || true)
	[[ -n $serving ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[[ -n $serving ]] || { echo "tokend did not start:" >&2; cat "$work/stderr" >&2; exit 1; }
json() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$@"; }
GRPC=$(json grpc <<<"$serving")
HTTP=$(json http <<<"$serving")

# --- the checks, one per README command, in order ----------------------------
APP="" KEY_ID="" TOKEN=""
check_list() {
	for svc in tokend.v1.TokenService tokend.v1.AppService tokend.v1.CallerService grpc.health.v1.Health; do
		grep -qx "$svc" <<<"$out" || fail "list does not show $svc"
	done
}
check_create_app() {
	APP=$(json app appId <<<"$out") && KEY_ID=$(json key keyId <<<"$out") || fail "CreateApp: no app.appId/key.keyId"
	grep -q 'BEGIN PRIVATE KEY' <<<"$out" || fail "CreateApp: no privateKeyPem"
}
check_issue() {
	TOKEN=$(json accessToken <<<"$out") || fail "IssueToken: no accessToken"
	[[ $(json keyId <<<"$out") == "$KEY_ID" ]] || fail "IssueToken: not signed by the app's key"
}
check_validate() {
	[[ $(json valid <<<"$out") == True ]] || fail "ValidateToken: not valid"
	[[ $(json claims subject <<<"$out") == alice && $(json claims appId <<<"$out") == "$APP" ]] ||
		fail "ValidateToken: wrong claims"
}
check_jwks() {
	[[ $(json keys 0 kid <<<"$out") == "$KEY_ID" ]] || fail "JWKS: the app's key is not published"
}
check_error_info() {
	[[ $rc -ne 0 ]] || fail "IssueToken for an unknown app succeeded"
	for want in 'Code: NotFound' 'type.googleapis.com/google.rpc.ErrorInfo' '"domain": "tokend"' '"reason": "APP_NOT_FOUND"'; do
		grep -qF "$want" <<<"$out" || fail "the error does not show $want"
	done
}
checks=(check_list check_create_app check_issue check_validate check_jwks check_error_info)

passed=0 failed=0 bad=0
fail() { echo "  $*" >&2; bad=1; }
if [[ ${#commands[@]} -ne ${#checks[@]} ]]; then
	echo "README grpcurl block has ${#commands[@]} commands, this test checks ${#checks[@]}: update scripts/test-grpcurl.sh" >&2
	exit 1
fi
for a in "${assignments[@]}"; do eval "$a"; done
for i in "${!commands[@]}"; do
	c=${commands[$i]}
	c=${c//127.0.0.1:7443/$GRPC}
	c=${c//127.0.0.1:7080/$HTTP}
	set +e
	out=$(eval "$c" 2>&1)
	rc=$?
	set -e
	bad=0
	if [[ ${checks[$i]} != check_error_info && $rc -ne 0 ]]; then
		fail "exit $rc: $out"
	else
		"${checks[$i]}"
	fi
	if [[ $bad -eq 0 ]]; then
		echo "ok   ${checks[$i]}: ${commands[$i]:0:100}"
		passed=$((passed + 1))
	else
		echo "FAIL ${checks[$i]}: ${commands[$i]}"
		failed=$((failed + 1))
	fi
done
echo "grpcurl: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
