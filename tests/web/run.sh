#!/usr/bin/env bash
# tests/web/run.sh - vmctl web end to end: a sandbox, its terminal page in Debian's
# headless Chromium (web-test.js, through playwright-core from tests/web's lockfile),
# and the refusals around it. TAP on standard output.
#
# BUILD (default build) holds vmctl, web/ and the guest; SHOT=docs/web.png also
# redraws the README's screenshot; LATENCY_OUT=FILE keeps the keystroke latencies.
set -uo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
VMCTL=${VMCTL:-$BUILD/vmctl}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOT=${SHOT:-}
nodedir=$BUILD/tests/web-node
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }

for need in node npm "$CHROMIUM"; do
	if ! command -v "$need" >/dev/null; then
		echo "Bail out! $need is missing; ci/install-deps installs it."
		exit 1
	fi
done

shots=0
[[ -n $SHOT ]] && shots=1
echo "1..$((14 + shots))"

# playwright-core as the lockfile pins it, installed once per lockfile.
if ! cmp -s tests/web/package-lock.json "$nodedir/package-lock.json" ||
   [[ ! -d $nodedir/node_modules/playwright-core ]]; then
	mkdir -p "$nodedir"
	cp tests/web/package.json tests/web/package-lock.json "$nodedir/"
	if ! (cd "$nodedir" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1); then
		echo "not ok 1 - npm ci of tests/web (playwright-core) failed"
		exit 1
	fi
fi

out=$("$VMCTL" web 1 2>&1)
status=$?
if [[ $status -eq 1 && $out == "vmctl: no sandbox on port 1"* ]]; then
	ok "web on a port without a sandbox says so and exits 1"
else
	not_ok "web on a port without a sandbox says so and exits 1" "status $status: $out"
fi

tmp=$(mktemp -d /tmp/vmctl-web-test.XXXXXX)
port=$("$VMCTL" start 2>"$tmp/start.err")
web_pid=
cleanup() {
	[[ -n $web_pid ]] && kill "$web_pid" 2>/dev/null
	[[ -n $port ]] && "$VMCTL" stop "$port" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
if [[ -z $port ]]; then
	not_ok "a sandbox starts" "$(cat "$tmp/start.err")"
	exit 1
fi

source tests/free-port.sh
http_port=$(free_port)

"$VMCTL" web "$port" "$http_port" >"$tmp/web.out" 2>"$tmp/web.err" &
web_pid=$!
for _ in $(seq 100); do
	[[ -s $tmp/web.out ]] && break
	sleep 0.1
done
link=$(head -n1 "$tmp/web.out")
if [[ $link =~ ^http://127\.0\.0\.1:$http_port/#[0-9a-f]{64}$ ]]; then
	ok "web prints the link with the page token after #"
else
	not_ok "web prints the link with the page token after #" "got \"$link\"" "$(cat "$tmp/web.err")"
fi

if ss -Hltn "sport = :$http_port" | awk '{print $4}' | grep -qvx "127.0.0.1:$http_port"; then
	not_ok "the page is served on 127.0.0.1 only" "$(ss -Hltn "sport = :$http_port")"
else
	ok "the page is served on 127.0.0.1 only"
fi

out=$("$VMCTL" web "$port" "$http_port" 2>&1)
status=$?
want="vmctl: HTTP port $http_port on 127.0.0.1 is already in use (another vmctl web?); give a free one: vmctl web PORT HTTP_PORT."
if [[ $status -eq 1 && $out == "$want" ]]; then
	ok "a second web on a busy HTTP port says so and exits 1"
else
	not_ok "a second web on a busy HTTP port says so and exits 1" "status $status: $out"
fi

LINK=$link HTTP_PORT=$http_port CHROMIUM=$CHROMIUM SHOT=$SHOT FIRST=$((n + 1)) \
	NODE_PATH=$nodedir/node_modules timeout 300 node tests/web/web-test.js
n=$((n + 8 + shots))  # web-test.js: 8 checks, 9 with a screenshot

kill -INT "$web_pid"
wait "$web_pid"
status=$?
web_pid=
if [[ $status -eq 0 ]]; then
	ok "web stops on Ctrl-C with status 0"
else
	not_ok "web stops on Ctrl-C with status 0" "status $status" "$(cat "$tmp/web.err")"
fi

out=$("$VMCTL" exec "$port" -- echo still-here 2>&1)
if [[ $out == still-here ]]; then
	ok "the sandbox serves exec as before"
else
	not_ok "the sandbox serves exec as before" "$out"
fi
