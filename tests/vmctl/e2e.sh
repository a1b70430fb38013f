#!/usr/bin/env bash
# e2e.sh - vmctl end to end on a real VM (QEMU; TCG where there is no KVM): one VM is
# booted for the whole suite and stopped by the last case (or on exit, whatever
# happened). Every vmctl call runs under timeout, so a hang is a failure, not a stall.
#
# Helpers built here: tests/sandbox/probe.c (static, installed in the guest with
# --raw as /usr/local/bin/probe, which the sandbox sees through its read-only /usr)
# and tests/vmctl/wstool.c (speaks to vmd directly: authentication, bad frames).
# Both are taken from $BUILD/tests when the Makefile built them there.
#
# Plan
#   1  vmctl start boots a VM and prints its port; vmctl list shows it running
#   2  the state file is 0600 in a 0700 folder and names the live QEMU and a secret
#   3  exit codes pass through: 0, 1, 42
#   4  a command killed by a signal gives 128+N: SIGKILL 137, SIGTERM 143
#   5  stdin from a pipe is forwarded with its end: echo hi | exec cat prints hi
#   6  stdin from a file is forwarded with its end; stdin from /dev/null is empty
#   7  stdout and stderr are kept apart, byte for byte
#   8  10 MB of random output arrive byte-exact (sha256 computed in the guest)
#   9  4 MB of random bytes make a round trip through cat byte-exact
#  10  8 execs at once each get their own output and exit code
#  11  --env and --cwd reach the command
#  12  --tty gives the sandboxed command a terminal it owns: tty names /dev/console
#  13  --tty --raw gives the command a terminal of the caller's size
#  14  SIGINT to vmctl exec ends the command with 130 at once, and it is gone in the guest
#  15  a sandboxed command runs as uid 1000 with no capabilities, under seccomp
#  16  a sandboxed command cannot ptrace, mount, unshare, load modules or the like
#  17  a getpid through int 0x80 kills the sandboxed command (SIGSYS, 159)
#  18  a sandboxed command sees only its own processes
#  19  a sandboxed command cannot write /usr, /etc or /
#  20  a sandboxed command has only lo and cannot reach the network (10.0.2.2)
#  21  --raw runs as root, sees every process, can mount a tmpfs, and cannot reach the
#      host either (10.0.2.2: the network is closed without --internet or --allow)
#  22  the forwarded port listens on 127.0.0.1 only: other host addresses refuse it
#  23  without a nonce 401 (the secret as a Bearer token too); without the secret an
#      error and a closed connection
#  24  bad frames get an error reply with the request's id; vmd keeps serving
#  25  errors: exec to a port with no VM exits 1 with one sentence
#  26  errors: an unknown option or a bad value exits 2 with the usage line
#  27  errors: stop of an unknown port exits 1 with one sentence
#  28  vmctl stop powers the VM off by ACPI within 10 s, QEMU is gone, no state left
#  29  exec to a stopped VM's port exits 1 with one sentence
source "$(dirname "$0")/lib.sh"
plan 29
vm_suite_ready e2e.sh
need_wstool

# raw_ps: the guest's process list, seen by root.
raw_ps() { ex --raw -- ps 2>/dev/null; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# --- 1-2: start, list, state ---------------------------------------------------------
vm_start_case "vmctl start boots a VM and prints its port; vmctl list shows it running"
echo "# the VM booted in $start_ms ms"
run $T 30 "$vmctl" list
expect_status 0
grep -Eq "^$P +[0-9]+ +running " <<<"$out" || why+=("vmctl list: $(printf '%q' "$out")")
case_end "vmctl start boots a VM and prints its port; vmctl list shows it running"

sf=$state/$P.json
[[ $(stat -c %a "$sf" 2>/dev/null) == 600 ]] || why+=("$sf has mode $(stat -c %a "$sf" 2>&1)")
[[ $(stat -c %a "$state") == 700 ]] || why+=("$state has mode $(stat -c %a "$state")")
read -r qpid qstart secret < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["pid"], s["pid_start"], s["secret"])' "$sf" 2>/dev/null)
[[ $secret =~ ^[0-9a-f]{64}$ ]] || why+=("the secret is not 64 hex digits: $secret")
[[ $(cat "/proc/$qpid/comm" 2>/dev/null) == qemu-system-x86* ]] ||
	why+=("pid $qpid is not QEMU: $(cat "/proc/$qpid/comm" 2>&1)")
[[ $(awk '{ print $22 }' "/proc/$qpid/stat" 2>/dev/null) == "$qstart" ]] ||
	why+=("pid_start $qstart is not the start time of pid $qpid")
# The secret is never on QEMU's command line (it goes by fw_cfg from a file).
if tr '\0' ' ' <"/proc/$qpid/cmdline" | grep -q -- "$secret"; then
	why+=("the secret is on QEMU's command line")
fi
[[ ! -e $state/$P.secret ]] || why+=("$state/$P.secret is left after the boot")
case_end "the state file is 0600 in a 0700 folder and names the live QEMU and a secret"

# --- 3-14: exec semantics --------------------------------------------------------------
for code in 0 1 42; do
	run ex -- sh -c "exit $code"
	expect_status "$code"
	expect_out ""
	expect_err ""
done
case_end "exit codes pass through: 0, 1, 42"

run ex -- sh -c 'kill -KILL $$'
expect_status 137
run ex -- sh -c 'kill -TERM $$'
expect_status 143
run ex -- sh -c 'exit 137'
expect_status 137
case_end "a command killed by a signal gives 128+N: SIGKILL 137, SIGTERM 143"

out=$(echo hi | $T 10 "$vmctl" exec "$P" -- cat 2>"$tmp/err")
status=$?
expect_status 0
expect_out "hi"
out=$(printf 'a\nb\n' | $T 10 "$vmctl" exec "$P" -- sh -c 'cat; echo end' 2>"$tmp/err")
expect_out "a
b
end"
[[ $status -ne 124 ]] || why+=("vmctl exec hung: the end of the pipe never reached the command")
case_end "stdin from a pipe is forwarded with its end: echo hi | exec cat prints hi"

printf 'hi\n' >"$tmp/hi"
run ex -- sh -c 'cat; echo end' <"$tmp/hi"
expect_status 0
expect_out "hi
end"
run ex -- sh -c 'cat; echo end' </dev/null
expect_status 0
expect_out "end"
expect_err ""
case_end "stdin from a file is forwarded with its end; stdin from /dev/null is empty"

run ex -- sh -c 'printf "out 1\n"; printf "err 1\n" >&2; printf "out 2"; printf "err 2" >&2; exit 3' </dev/null
expect_status 3
expect_out "out 1
out 2"
expect_err "err 1
err 2"
ex -- sh -c 'printf "o\0\377\n"; printf "e\0\376" >&2' </dev/null >"$tmp/o" 2>"$tmp/e"
[[ $(od -An -tx1 "$tmp/o" | tr -d ' \n') == 6f00ff0a ]] || why+=("stdout bytes: $(od -An -tx1 "$tmp/o")")
[[ $(od -An -tx1 "$tmp/e" | tr -d ' \n') == 6500fe ]] || why+=("stderr bytes: $(od -An -tx1 "$tmp/e")")
case_end "stdout and stderr are kept apart, byte for byte"

t0=$(ms)
ex -- sh -c 'head -c 10000000 /dev/urandom >/tmp/big; sha256sum </tmp/big >&2; cat /tmp/big; rm /tmp/big' \
	</dev/null >"$tmp/big" 2>"$tmp/big.sum"
status=$?
expect_status 0
[[ $(stat -c %s "$tmp/big") -eq 10000000 ]] || why+=("$(stat -c %s "$tmp/big") bytes arrived, not 10000000")
want=$(awk '{ print $1 }' "$tmp/big.sum")
got=$(sha256sum <"$tmp/big" | awk '{ print $1 }')
[[ $want =~ ^[0-9a-f]{64}$ && $got == "$want" ]] || why+=("sha256 here $got, in the guest $want")
echo "# 10 MB out of the guest in $(($(ms) - t0)) ms"
case_end "10 MB of random output arrive byte-exact (sha256 computed in the guest)"

head -c 4000000 /dev/urandom >"$tmp/rnd"
t0=$(ms)
ex -- cat <"$tmp/rnd" >"$tmp/rnd.back"
status=$?
expect_status 0
cmp -s "$tmp/rnd" "$tmp/rnd.back" || why+=("the bytes that came back differ ($(stat -c %s "$tmp/rnd.back") bytes)")
want=$(sha256sum <"$tmp/rnd" | awk '{ print $1 }')
got=$(ex -- sha256sum <"$tmp/rnd" | awk '{ print $1 }')
[[ $got == "$want" ]] || why+=("sha256 in the guest $got, here $want")
echo "# 4 MB in and out in $(($(ms) - t0)) ms"
case_end "4 MB of random bytes make a round trip through cat byte-exact"

for i in 1 2 3 4 5 6 7 8; do
	ex -- sh -c "echo job $i; sleep 0.5; echo err $i >&2; exit $((i + 10))" \
		</dev/null >"$tmp/job.$i" 2>"$tmp/job.$i.err" &
	pids[i]=$!
done
for i in 1 2 3 4 5 6 7 8; do
	wait "${pids[i]}"
	rc=$?
	[[ $rc -eq $((i + 10)) ]] || why+=("job $i exited $rc, not $((i + 10))")
	[[ $(cat "$tmp/job.$i") == "job $i" ]] || why+=("job $i stdout: $(cat "$tmp/job.$i")")
	[[ $(cat "$tmp/job.$i.err") == "err $i" ]] || why+=("job $i stderr: $(cat "$tmp/job.$i.err")")
done
case_end "8 execs at once each get their own output and exit code"

run ex --env GREETING=hello --env 'SPACED=a b  c' --env PATH=/bin:/usr/bin --cwd /tmp -- \
	sh -c 'echo "$GREETING|$SPACED|$PATH"; pwd' </dev/null
expect_status 0
expect_out "hello|a b  c|/bin:/usr/bin
/tmp"
run ex --raw --cwd /proc -- pwd </dev/null
expect_out "/proc"
case_end "--env and --cwd reach the command"

# script(1) gives vmctl a terminal; the guest's lines end in \r\n there.
export VMCTL=$vmctl P
# In the sandbox the terminal is bound on /dev/console (its /dev/pts is its own), owned
# by the command's user, so it can be opened by name too.
out=$($T 30 script -qec '"$VMCTL" exec "$P" --tty -- sh -c "tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; echo \$TERM; echo by-name >/dev/console"' \
	/dev/null </dev/null | tr -d '\r')
expect_out "/dev/console
stdin-tty
stdout-tty
xterm-256color
by-name"
case_end "--tty gives the sandboxed command a terminal it owns: tty names /dev/console"

out=$($T 30 script -qec 'stty rows 33 cols 101; "$VMCTL" exec "$P" --tty --raw -- sh -c "tty; test -t 1 && echo stdout-tty; stty size"' \
	/dev/null </dev/null | tr -d '\r')
[[ ${out%%$'\n'*} =~ ^/dev/pts/[0-9]+$ ]] || why+=("tty said: $(printf '%q' "${out%%$'\n'*}")")
out=${out#*$'\n'}
expect_out "stdout-tty
33 101"
case_end "--tty --raw gives the command a terminal of the caller's size"

# A plain background job has SIGINT ignored; vmctl installs its own handler.
$T 60 "$vmctl" exec "$P" -- sleep 4713 </dev/null >"$tmp/int.out" 2>"$tmp/int.err" &
job=$!
for _ in $(seq 50); do
	raw_ps | grep -q 'sleep 4713' && break
	sleep 0.1
done
raw_ps | grep -q 'sleep 4713' || why+=("sleep 4713 never appeared in the guest")
t0=$(ms)
kill -INT "$job"
wait "$job"
rc=$?
took=$(($(ms) - t0))
[[ $rc -eq 130 ]] || why+=("vmctl exec exited $rc, not 130")
[[ $took -lt 2000 ]] || why+=("vmctl exec took $took ms to end after SIGINT")
for _ in $(seq 20); do
	raw_ps | grep -q 'sleep 4713' || break
	sleep 0.1
done
left=$(raw_ps | grep 'sleep 4713')
[[ -z $left ]] || why+=("still in the guest: $left")
echo "# SIGINT to exit in $took ms"
case_end "SIGINT to vmctl exec ends the command with 130 at once, and it is gone in the guest"

# --- 15-21: isolation in the guest -------------------------------------------------------
run ex -- sh -c 'id -u; id -g; grep -E "^(Cap[A-Za-z]+|NoNewPrivs|Seccomp):" /proc/self/status' </dev/null
expect_status 0
expect_out "1000
1000
CapInh:	0000000000000000
CapPrm:	0000000000000000
CapEff:	0000000000000000
CapBnd:	0000000000000000
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	2"
case_end "a sandboxed command runs as uid 1000 with no capabilities, under seccomp"

run ex --raw -- sh -c 'mkdir -p /usr/local/bin && cat >/usr/local/bin/probe && chmod 755 /usr/local/bin/probe' <"$probe"
[[ $status -eq 0 ]] || why+=("cannot install the probe: status $status, $err")
run ex -- probe syscalls </dev/null
expect_status 0
expect_out "$(grep -v "^#" "$here/../sandbox/syscalls.expected")"
case_end "a sandboxed command cannot ptrace, mount, unshare, load modules or the like"

run ex -- probe int80 </dev/null
expect_status 159
expect_out ""
run ex -- probe x32 </dev/null
expect_status 159
case_end "a getpid through int 0x80 kills the sandboxed command (SIGSYS, 159)"

run ex -- ps </dev/null
expect_status 0
expect_out "PID   USER     COMMAND
    1 1000     /bin/sandbox-helper --bind /home/sandbox:/home/sandbox --bind /mnt:/mnt --cwd /home/sandbox -- ps
    2 1000     ps"
run ex -- probe pids </dev/null
expect_out "pids: 1 2"
run ex -- probe kill 1 </dev/null
expect_out "kill: ok"
case_end "a sandboxed command sees only its own processes"

run ex -- sh -c 'probe create /usr/x; probe create /usr/local/bin/x; probe create /etc/x; probe create /x; probe create /tmp/x' </dev/null
expect_out "create: Read-only file system
create: Read-only file system
create: Read-only file system
create: Read-only file system
create: ok"
case_end "a sandboxed command cannot write /usr, /etc or /"

# A host server that the guest could reach as 10.0.2.2 (QEMU's user network maps the
# gateway to this host's loopback): neither the sandbox nor --raw may get there
# (escape-net.sh tests the network whole).
$T 60 "$probe" serve 127.0.0.1 >"$tmp/port" &
server=$!
for _ in $(seq 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done
sport=$(cat "$tmp/port")
run ex -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; probe connect 10.0.2.2 '"$sport"'; probe connect 10.0.2.15 8080' </dev/null
expect_out "lo
connect: Network is unreachable
connect: Network is unreachable"
case_end "a sandboxed command has only lo and cannot reach the network (10.0.2.2)"

run ex --raw -- sh -c 'id -u; mkdir -p /tmp/e2e-mnt && mount -t tmpfs e2e /tmp/e2e-mnt && grep -c "^e2e /tmp/e2e-mnt tmpfs" /proc/mounts && umount /tmp/e2e-mnt; ps | grep -c "\[kthreadd\]"; cat /proc/1/cmdline | tr "\0" " "; echo; probe connect 10.0.2.2 '"$sport" </dev/null
expect_status 0
expect_out "0
1
1
/bin/busybox sh /init 
connect: Connection refused"
kill "$server" 2>/dev/null
wait "$server"
case_end "--raw runs as root, sees every process, can mount a tmpfs, and cannot reach the host either"

# --- 22-24: the port and the protocol ------------------------------------------------------
listen=$(ss -Hltn "sport = :$P" | awk '{ print $4 }')
[[ $listen == "127.0.0.1:$P" ]] || why+=("port $P listens on: $(printf '%q' "$listen")")
addrs=$(hostname -I 2>/dev/null)
[[ -n $addrs ]] || why+=("this host has no address but loopback to try")
for a in $addrs; do
	if $T 5 bash -c "exec 3<>/dev/tcp/$a/$P" 2>/dev/null; then
		why+=("$a:$P accepted a connection")
	fi
done
timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P" 2>/dev/null || why+=("127.0.0.1:$P refused")
case_end "the forwarded port listens on 127.0.0.1 only: other host addresses refuse it"

run $T 30 "$wstool" auth "$P"
expect_out "status 401
after: nothing"
run $T 30 "$wstool" bearer "$P" "$secret"
expect_out "status 401
after: nothing"
run $T 30 "$wstool" prove "$P" "$(printf '%064d' 0)"
expect_out "status 101
vmd proved the secret: no
ping: error -32004 auth: the proof does not match; this client does not hold the VM's secret.
after: closed"
run $T 30 "$wstool" prove "$P" "$secret"
expect_out "status 101
vmd proved the secret: yes
ping: pong
after: open"
case_end "without a nonce 401 (the secret as a Bearer token too); without the secret an error and a closed connection"

run $T 60 "$wstool" frames "$P" "$secret"
expect_status 0
expect_out 'short frame: error id=null code=-32600
length past frame: error id=null code=-32600
length short of frame: error id=null code=-32600
length over the limit: error id=null code=-32600
text message: error id=null code=-32600
invalid JSON: error id=null code=-32700
not an object: error id=null code=-32600
unknown type: error id=4 code=-32601
fs_read outside the home: error id=5 code=-32602
command not a string: error id=6 code=-32602
command missing: error id=7 code=-32602
args not an array: error id=8 code=-32602
args of numbers: error id=9 code=-32602
env of numbers: error id=10 code=-32602
raw not a bool: error id=11 code=-32602
kill handle a number: error id=12 code=-32602
kill unknown handle: error id=13 code=-32001
stdin data not base64: error id=14 code=-32602
ping: pong id="p"
echo: spawned id=20
echo: stdout id=20 data=still serving\n
echo: exit id=20 code=0'
run ex -- echo after the bad frames </dev/null
expect_status 0
expect_out "after the bad frames"
case_end "bad frames get an error reply with the request's id; vmd keeps serving"

# --- 25-29: errors and stop ---------------------------------------------------------------
# A port with no VM: one no state file names (a free one, from the kernel).
free=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
while [[ -e $state/$free.json ]]; do free=$((free + 1)); done
run $T 30 "$vmctl" exec "$free" -- true
expect_status 1
expect_out ""
expect_err "vmctl: no sandbox on port $free (vmctl list shows the running ones)."
case_end "errors: exec to a port with no VM exits 1 with one sentence"

run $T 30 "$vmctl" exec "$P" --bogus -- true
expect_status 2
expect_err "vmctl: exec takes no option --bogus.
usage: vmctl exec PORT [--raw] [--tty] [--uid N] [--env K=V]... [--cwd P] -- CMD [ARG]..."
run $T 30 "$vmctl" start --memory abc
expect_status 2
expect_out ""
expect_err 'vmctl: --memory wants a whole number from 64 to 65536, not "abc".
usage: vmctl start [IMAGE] [--kernel K] [--initrd I] [--share[-ro] HOST TAG]... [--memory MIB] [--cpus N] [--internet | --allow HOST[:PORT]...] [--disk SIZE] [--cold]'
run $T 30 "$vmctl" --bogus
expect_status 2
run $T 30 "$vmctl" exec "$P" --
expect_status 2
expect_err "vmctl: exec needs a command after --.
usage: vmctl exec PORT [--raw] [--tty] [--uid N] [--env K=V]... [--cwd P] -- CMD [ARG]..."
case_end "errors: an unknown option or a bad value exits 2 with the usage line"

run $T 30 "$vmctl" stop "$free"
expect_status 1
expect_err "vmctl: no sandbox on port $free (vmctl list shows the running ones)."
case_end "errors: stop of an unknown port exits 1 with one sentence"

# The console is removed with the state: follow it through the stop.
tail -n +1 -f "$state/$P.console" >"$tmp/console" 2>/dev/null &
tailer=$!
sleep 0.2
t0=$(ms)
run $T 30 "$vmctl" stop "$P"
took=$(($(ms) - t0))
sleep 0.2
kill "$tailer" 2>/dev/null
wait "$tailer" 2>/dev/null
expect_status 0
expect_out ""
expect_err ""
[[ $took -lt 10000 ]] || why+=("stop took $took ms")
echo "# stop took $took ms"
# Gone, or a zombie nobody reaps (PID 1 of some containers does not): then its exit
# status (the last field of stat) must be a plain exit 0, not a signal.
if [[ -e /proc/$qpid/stat ]] && [[ $(awk '{ print $22 }' "/proc/$qpid/stat") == "$qstart" ]]; then
	# the fields after the command's name (which may hold spaces): the state first
	st_line=$(cat "/proc/$qpid/stat")
	rest=${st_line##*) }
	read -r -a f <<<"$rest"
	[[ ${f[0]} == Z ]] || why+=("QEMU (pid $qpid) is still alive, state ${f[0]}")
	[[ ${f[${#f[@]} - 1]} == 0 ]] || why+=("QEMU ended with wait status ${f[${#f[@]} - 1]}, not a clean exit")
fi
left=$(find "$state" -maxdepth 1 -name "$P.*" -printf '%f ')
[[ -z $left ]] || why+=("left in $state: $left")
grep -q "power button pressed; powering off" "$tmp/console" ||
	why+=("the console does not show the ACPI power-off: $(tail -n 3 "$tmp/console" | tr '\n' '|')")
run $T 30 "$vmctl" list
! grep -q "^$P " <<<"$out" || why+=("vmctl list still shows $P")
stopped=$P
P=''
case_end "vmctl stop powers the VM off by ACPI within 10 s, QEMU is gone, no state left"

run $T 30 "$vmctl" exec "$stopped" -- true
expect_status 1
expect_err "vmctl: no sandbox on port $stopped (vmctl list shows the running ones)."
case_end "exec to a stopped VM's port exits 1 with one sentence"

finish
