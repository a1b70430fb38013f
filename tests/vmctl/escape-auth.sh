#!/usr/bin/env bash
# escape-auth.sh - holes 3 and 7 of issue 11, each as an attack that must now fail:
# whoever holds a sandbox's port in QEMU's place learns no secret and no proof, and
# vmctl says it is not the VM; a failed start attempt's secret opens nothing; vmctl
# web's link holds a token of its own that opens one sandboxed shell and nothing else,
# and nothing once vmctl web stops. TAP on standard output; run as root with
# XDG_RUNTIME_DIR private to the run.
#
# The stand-ins for QEMU are tests/vmctl/standin.py (vmctl start runs them through
# VMCTL_QEMU_BOOT); the page's protocol is spoken by tests/vmctl/webclient.py. Every
# server here is one the suite starts on 127.0.0.1; nothing aims anywhere else.
#
#   1  3a a stand-in on the VM's port gets no secret and no proof; start says it is not this VM
#   2  3b a squatter that takes the port before QEMU gets nothing; the start goes on
#         with another port and a fresh secret, and the first attempt's opens nothing
#   3  3c another VM's real vmd relayed to the port does not pass for this VM
#   4  3d exec to a port an impostor holds reveals nothing and says it is not this VM
#   5  3e another local user reaches vmd's port but gets nothing without the secret
#   6  3f the secret is on no command line and in no environment, host or guest
#   7  7a vmctl web's link holds a fresh page token, not the VM's secret
#   8  7b the page token opens a shell as the sandbox user, as vmctl exec runs it
#   9  7c with the page token, anything but keystrokes and resizes is refused
#  10  7d the VM's secret is refused as a page token
#  11  7e once vmctl web stops its token opens nothing; the next web's token differs
#  12  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
source "$here/../free-port.sh"
plan 12
vm_suite_ready escape-auth.sh
need_wstool
standin=$here/standin.py
webclient=$here/webclient.py
real_boot=$(cd "$here/../.." && pwd)/host/qemu-boot
not_this_vm() { echo "vmctl: the service on 127.0.0.1:$1 did not prove it holds this VM's secret; it is not this VM."; }
pids=()
web_pid=
escape_cleanup() {
	[[ -n $web_pid ]] && kill "$web_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	vm_cleanup
}
trap escape_cleanup EXIT

# launcher NAME ARGS...: a launcher script running standin.py ARGS... before qemu-boot's.
launcher() {
	local f=$tmp/launch-$1
	shift
	printf '#!/bin/sh\nexec python3 %q' "$standin" >"$f"
	printf ' %q' "$@" >>"$f"
	printf ' "$@"\n' >>"$f"
	chmod 755 "$f"
	echo "$f"
}

# no_secret_in DIR SECRET...: why+= for every recorded byte stream holding a secret
# or an Authorization header, and for any byte vmctl sent after the upgrade's answer.
no_secret_in() {
	local dir=$1 f s
	shift
	for f in "$dir"/*.request "$dir"/*.after; do
		[[ -e $f ]] || continue
		for s in "$@"; do
			grep -qF "$s" "$f" && why+=("$f holds a secret")
		done
		grep -qi '^authorization:' "$f" && why+=("$f holds an Authorization header")
	done
	for f in "$dir"/*.after; do
		[[ -e $f && -s $f ]] && why+=("vmctl sent $(stat -c %s "$f") bytes after the answer ($f)")
	done
}

# --- 3a: an impostor answers in QEMU's place -------------------------------------------
rec=$tmp/impostor
run env VMCTL_QEMU_BOOT="$(launcher impostor impostor "$rec")" $T 60 "$vmctl" start --cold
expect_status 1
last=$(cat "$rec/5.port" 2>/dev/null)
expect_err "$(not_this_vm "$last")"
expect_out ""
[[ -e $rec/6.port ]] && why+=("more than 5 attempts")
mapfile -t secrets < <(cat "$rec"/*.secret 2>/dev/null)
[[ ${#secrets[@]} -eq 5 ]] || why+=("${#secrets[@]} attempts recorded, expected 5")
[[ $(printf '%s\n' "${secrets[@]}" | sort -u | wc -l) -eq 5 ]] ||
	why+=("an attempt reused a secret: ${secrets[*]}")
[[ $(grep -ch '^x-vmd-nonce: [0-9a-f]\{64\}' "$rec"/*.request | sort -u) == 1 ]] ||
	why+=("every upgrade should carry one nonce: $(grep -c nonce "$rec"/*.request)")
no_secret_in "$rec" "${secrets[@]}"
for f in "$rec"/*.port; do
	left=$(find "$state" -maxdepth 1 -name "$(cat "$f").*" -printf '%f ')
	[[ -z $left ]] || why+=("left in $state: $left")
done
pgrep -f "standin.py impostor $rec" >/dev/null && why+=("an impostor stand-in is still running")
case_end "3a a stand-in on the VM's port gets no secret and no proof; start says it is not this VM"

# --- 3b: a squatter holds the port before QEMU binds it --------------------------------
rec=$tmp/squat
t0=$(date +%s%N)
run env VMCTL_QEMU_BOOT="$(launcher squat squat "$rec" "$real_boot")" $T 120 "$vmctl" start --cold
start_ms=$((($(date +%s%N) - t0) / 1000000))
[[ -s $rec/squatter.pid ]] && pids+=("$(cat "$rec/squatter.pid")")
expect_status 0
expect_err ""
P=$out
if [[ $status -ne 0 || ! $P =~ ^[0-9]+$ ]]; then
	P=''
	case_end "3b a squatter before QEMU gets nothing; the start goes on with another port and a fresh secret"
	echo "Bail out! vmctl start failed: $err"
	exit 1
fi
echo "# started past the squatter in $start_ms ms"
secret=$(vm_secret "$P")
first=$(cat "$rec/1.secret")
[[ $(cat "$rec/1.port") != "$P" ]] || why+=("the VM got the squatted port $P")
[[ $(cat "$rec/2.port") == "$P" ]] || why+=("the second attempt's port is not the VM's")
[[ $first != "$secret" ]] || why+=("the second attempt reused the first one's secret")
[[ $(cat "$rec/2.secret") == "$secret" ]] || why+=("the VM's secret is not the second attempt's")
no_secret_in "$rec" "$first" "$secret"
run ex -- echo served
expect_out "served"
run $T 30 "$wstool" prove "$P" "$first"
expect_out "status 101
vmd proved the secret: no
ping: error -32004 auth: the proof does not match; this client does not hold the VM's secret.
after: closed"
case_end "3b a squatter before QEMU gets nothing; the start goes on with another port and a fresh secret"

# --- 3c: a genuine vmd, but another VM's ------------------------------------------------
rec=$tmp/relay
run env VMCTL_QEMU_BOOT="$(launcher relay relay "$rec" "$P")" $T 60 "$vmctl" start --cold
expect_status 1
expect_err "$(not_this_vm "$(cat "$rec/5.port" 2>/dev/null)")"
run ex -- echo still-served
expect_out "still-served"
case_end "3c another VM's real vmd relayed to the port does not pass for this VM"

# --- 3d: exec to a port an impostor took after its VM went -----------------------------
rec=$tmp/exec-impostor
port=$(free_port)
printf 'vmd-identity 1\nsecret=0000\n' >"$tmp/fake-identity"
python3 "$standin" impostor "$rec" --forward "$port:8080" --fw-cfg "opt/vmd/identity=$tmp/fake-identity" &
ipid=$!
pids+=("$ipid")
for _ in $(seq 50); do (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
kill -0 "$ipid" 2>/dev/null || why+=("the impostor is not listening on $port (it printed what went wrong above)")
# The state a VM that died on that port would have left, with this VM's secret.
python3 - "$state/$P.json" "$state/$port.json" "$port" "$ipid" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["port"], s["pid"] = int(sys.argv[3]), int(sys.argv[4])
s["pid_start"] = int(open("/proc/%s/stat" % sys.argv[4]).read().rsplit(")", 1)[1].split()[19])
with open(sys.argv[2], "w") as f:
    json.dump(s, f)
PY
chmod 600 "$state/$port.json"
run $T 30 "$vmctl" exec "$port" -- echo hi
expect_status 1
expect_out ""
expect_err "$(not_this_vm "$port")"
run $T 30 "$vmctl" cp "$tmp/fake-identity" "$port:/tmp/x"
expect_status 1
expect_err "$(not_this_vm "$port")"
sleep 0.5
no_secret_in "$rec" "$secret"
kill "$ipid" 2>/dev/null
rm -f "$state/$port".*
case_end "3d exec to a port an impostor holds reveals nothing and says it is not this VM"

# --- 3e: another local user -------------------------------------------------------------
shared=$(mktemp -d /tmp/escape-auth-nobody.XXXXXX)
cp "$wstool" "$shared/wstool"
chmod 755 "$shared" "$shared/wstool"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
run as_nobody $T 30 "$shared/wstool" prove "$P" "$(printf '%064d' 0)"
expect_out "status 101
vmd proved the secret: no
ping: error -32004 auth: the proof does not match; this client does not hold the VM's secret.
after: closed"
run as_nobody $T 30 "$shared/wstool" auth "$P"
expect_out "status 401
after: nothing"
run as_nobody cat "$state/$P.json"
expect_status 1
expect_err "cat: $state/$P.json: Permission denied"
rm -rf "$shared"
case_end "3e another local user reaches vmd's port but gets nothing without the secret"

# --- 3f: the secret in no command line or environment -----------------------------------
found=$(python3 - "$secret" <<'PY'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    for what in ("cmdline", "environ"):
        try:
            if sys.argv[1].encode() in open("/proc/%s/%s" % (pid, what), "rb").read():
                print(pid, what)
        except OSError:
            pass
PY
)
# sys.argv of that very check holds it: only that process may show up.
[[ $(wc -l <<<"$found") -le 1 ]] || why+=("on the host: $found")
run ex --raw -- sh -c 'read -r s; for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do
	tr "\0" "\n" <"$f" 2>/dev/null | while IFS= read -r l; do
		case $l in *"$s"*) echo "$f";; esac; done; done; echo checked' <<<"$secret"
expect_out "checked"
case_end "3f the secret is on no command line and in no environment, host or guest"

# --- 7: vmctl web -----------------------------------------------------------------------
# web_start HTTP_PORT: vmctl web in the background; its link in $link, token in $token.
web_start() {
	: >"$tmp/web.out"
	"$vmctl" web "$P" "$1" >"$tmp/web.out" 2>"$tmp/web.err" &
	web_pid=$!
	for _ in $(seq 100); do [[ -s $tmp/web.out ]] && break; sleep 0.1; done
	link=$(head -n1 "$tmp/web.out")
	token=${link#*#}
}
web_stop() { kill -INT "$web_pid"; wait "$web_pid"; web_pid=; }
auth() { printf '{"type":"auth","token":"%s","rows":24,"cols":80%s}' "$1" "${2:-}"; }
hp=$(free_port)
web_start "$hp"
[[ $link =~ ^http://127\.0\.0\.1:$hp/#[0-9a-f]{64}$ ]] || why+=("the link: $link ($(cat "$tmp/web.err"))")
[[ $link != *"$secret"* ]] || why+=("the link holds the VM's secret")
first_token=$token
case_end "7a vmctl web's link holds a fresh page token, not the VM's secret"

uid=$(ex -- id -u)
run $T 60 python3 "$webclient" "$hp" "text:$(auth "$token")" 'keys:echo uid=$(id -u)=\n' \
	"until:uid=$uid="
expect_out "text {\"type\":\"ready\"}
saw uid=$uid="
[[ $uid == 1000 ]] || why+=("vmctl exec runs as uid $uid")
case_end "7b the page token opens a shell as the sandbox user, as vmctl exec runs it"

refuse_shell='The page gets a sandboxed shell only; vmctl web refuses'
for extra in raw uid command network; do
	run $T 30 python3 "$webclient" "$hp" "text:$(auth "$token" ",\"$extra\":true")" end
	msg="$refuse_shell \\\"$extra\\\"."
	expect_out "text {\"type\":\"error\",\"message\":\"$msg\"}
close 1008 $refuse_shell \"$extra\"."
done
only='The page may only type into its shell and resize it; vmctl web refuses'
for req in '{"type":"spawn","command":"/bin/sh","raw":true}' \
	   '{"type":"file_put","path":"/etc/passwd"}' '{"type":"session_create","uid":0}'; do
	type=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["type"])' "$req")
	run $T 60 python3 "$webclient" "$hp" "text:$(auth "$token")" \
		'keys:echo READY-$((6*7))\n' until:READY-42 "text:$req" end
	expect_out "text {\"type\":\"ready\"}
saw READY-42
text {\"type\":\"error\",\"message\":\"$only \\\"$type\\\".\"}
close 1008 $only \"$type\"."
done
case_end "7c with the page token, anything but keystrokes and resizes is refused"

wrong='Wrong token: open the link this vmctl web printed; an earlier one'"'"'s opens nothing.'
run $T 30 python3 "$webclient" "$hp" "text:$(auth "$secret")" end
expect_out "text {\"type\":\"error\",\"message\":\"$wrong\"}
close 1008 $wrong"
case_end "7d the VM's secret is refused as a page token"

web_stop
run $T 30 python3 "$webclient" "$hp" "text:$(auth "$first_token")" end
expect_out "no connection"
web_start "$hp"
[[ -n $token && $token != "$first_token" ]] || why+=("the second vmctl web printed the same token")
run $T 30 python3 "$webclient" "$hp" "text:$(auth "$first_token")" end
expect_out "text {\"type\":\"error\",\"message\":\"$wrong\"}
close 1008 $wrong"
web_stop
case_end "7e once vmctl web stops its token opens nothing; the next web's token differs"

vm_stop_case
finish
