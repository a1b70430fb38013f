#!/usr/bin/env bash
# isolation.sh - sandbox-helper end to end, as root on this machine: exit statuses and
# signals, byte-exact streams, and what a sandboxed command can and cannot do.
#
# The probe (probe.c, built here, static) does the poking from inside; "probe run"
# from outside tells a death by signal from an exit status.
#
# Plan
#   1  a command's exit status passes through
#   2  a command killed by SIGKILL: the helper dies of SIGKILL too
#   3  exit 137 stays an exit status, not a signal
#   4  a command killed by SIGSEGV: the helper dies of SIGSEGV and leaves no core file
#   5  SIGTERM to the helper kills the command with SIGTERM
#   6  SIGTERM to the helper reaches a command that traps it
#   7  SIGKILL to the helper takes every sandboxed process with it
#   8  1 MB of random bytes pass stdin -> stdout byte-exact
#   9  stdin -> stderr byte-exact, stdout untouched
#  10  end of file on stdin reaches the command
#  11  the command runs as uid 1000, gid 1000 by default, with no other group
#  12  --uid and --gid choose the ids
#  13  no capabilities in any set, no_new_privs, seccomp filter mode
#  14  ptrace, mount, unshare, modules, kexec, bpf and the other escapes fail
#  15  a getpid through int $0x80 kills the command with SIGSYS
#  16  an x32 system call kills the command with SIGSYS
#  17  the command sees only the sandbox's processes
#  18  a process outside cannot be signalled
#  19  the sandbox's pid 1 shrugs off SIGKILL from the command
#  20  /usr, /etc and / are read-only
#  21  /tmp is empty and writable
#  22  /dev holds only the minimal nodes, and they work
#  23  /sys is absent and /proc is the sandbox's own
#  24  descriptors the caller leaves open do not reach the command
#  25  without --network only lo exists, and loopback works
#  26  without --network an outside address is unreachable
#  27  with --network an outside address is reachable
#  28  --ro-bind is read-only
#  29  --bind is writable, and files belong to the command's uid outside
#  30  --tmpfs is empty and writable; mounts apply in command-line order
#  31  --cwd, --hostname and --env
#  32  the environment is the caller's, with --env on top
#  33  a missing command is status 127, an unrunnable one 126, each with a sentence
#  34  a usage error is status 125, one sentence and the usage line
#  35  a terminal passes through, with the command in front
#  36  Python runs: threads, subprocesses, sockets, multiprocessing
#  37  busybox runs in the sandbox
#  38  an unprivileged caller gets the same sandbox
#  39  ten sandboxes at once
#  40  the sandbox has a cgroup namespace, and a cgroup leaf when cgroup v2 is writable
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
helper=$(realpath "${SANDBOX_HELPER:-$B/sandbox-helper}")
plan 40

if [[ $(id -u) -ne 0 ]]; then
	echo "Bail out! isolation.sh runs as root (the helper's usual caller, vmd, is root)."
	exit 1
fi
if [[ ! -x $helper ]]; then
	echo "Bail out! $helper is missing; build it first (make $B/sandbox-helper)."
	exit 1
fi
probe=$tmp/probe
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -o "$probe" \
	"$(dirname "$0")/probe.c"; then
	echo "Bail out! cannot build the probe (a static libc is in libc6-dev)."
	exit 1
fi
chmod 755 "$tmp"
sb() { "$helper" "$@"; }
# The probe, bound into the sandbox.
P=(--ro-bind "$probe:/probe")
# The first global IPv4 address of this machine: outside the sandbox's network.
outside=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')

run sb -- sh -c 'exit 7'
expect_status 7
expect_out ""
expect_err ""
run sb -- true
expect_status 0
case_end "a command's exit status passes through"

run "$probe" run "$helper" -- sh -c 'kill -KILL $$'
expect_out "killed by signal 9"
case_end "a command killed by SIGKILL: the helper dies of SIGKILL too"

run "$probe" run "$helper" -- sh -c 'exit 137'
expect_out "exited 137"
case_end "exit 137 stays an exit status, not a signal"

mkdir "$tmp/cwd" && chmod 777 "$tmp/cwd"
(cd "$tmp/cwd" && run "$probe" run "$helper" --bind "$tmp/cwd:/work" --cwd /work -- sh -c 'kill -SEGV $$'
	expect_out "killed by signal 11"
	[[ -z $(ls -A "$tmp/cwd") ]] || why+=("files left: $(ls -A "$tmp/cwd")")
	printf '%s\n' "${why[@]}" >"$tmp/why")
mapfile -t why < <(grep . "$tmp/why")
case_end "a command killed by SIGSEGV: the helper dies of SIGSEGV and leaves no core file"

run "$probe" run-kill 15 0.3 "$helper" -- sleep 30
expect_out "killed by signal 15"
case_end "SIGTERM to the helper kills the command with SIGTERM"

run "$probe" run-kill 15 0.3 "$helper" -- sh -c 'trap "exit 3" TERM; sleep 30 & wait'
expect_out "exited 3"
case_end "SIGTERM to the helper reaches a command that traps it"

# count_sleeps: how many processes run "sleep 4711" or "sleep 4712" (no procps needed).
count_sleeps() {
	local f n=0 cmd
	for f in /proc/[0-9]*/cmdline; do
		{ cmd=$(tr '\0' ' ' <"$f"); } 2>/dev/null   # the process may be gone
		[[ $cmd == "sleep 4711 " || $cmd == "sleep 4712 " ]] && n=$((n + 1))
	done
	echo $n
}
# Not through sb: a backgrounded function is a subshell, and $! would be its pid.
"$helper" -- sh -c 'sleep 4711 & sleep 4712' &
pid=$!
sleep 0.3
before=$(count_sleeps)
# The shell reports the killed job on stderr; that line is not TAP.
exec 3>&2 2>/dev/null
kill -KILL "$pid"
wait "$pid"
exec 2>&3 3>&-
sleep 0.3
after=$(count_sleeps)
[[ $before -eq 2 ]] || why+=("$before sandboxed sleeps before the kill, expected 2")
[[ $after -eq 0 ]] || why+=("$after sandboxed sleeps left after the helper was killed")
case_end "SIGKILL to the helper takes every sandboxed process with it"

head -c 1048576 /dev/urandom >"$tmp/random"
want=$(sha256sum <"$tmp/random")
got=$(sb -- cat <"$tmp/random" | sha256sum)
[[ $got == "$want" ]] || why+=("stdout sha256 $got, expected $want")
case_end "1 MB of random bytes pass stdin -> stdout byte-exact"

got=$(sb -- sh -c 'cat >&2' <"$tmp/random" 2>&1 >"$tmp/stdout" | sha256sum)
[[ $got == "$want" ]] || why+=("stderr sha256 $got, expected $want")
[[ ! -s $tmp/stdout ]] || why+=("stdout is not empty")
case_end "stdin -> stderr byte-exact, stdout untouched"

run sb -- sh -c 'cat; echo end'
out=$(echo hi | sb -- sh -c 'cat; echo end')
expect_out "hi
end"
case_end "end of file on stdin reaches the command"

run sb -- sh -c 'id -u; id -g; id -G'
expect_status 0
expect_out "1000
1000
1000"
case_end "the command runs as uid 1000, gid 1000 by default, with no other group"

run sb --uid 4242 --gid 4343 -- sh -c 'id -u; id -g; id -G'
expect_out "4242
4343
4343"
case_end "--uid and --gid choose the ids"

run sb -- grep -E '^(Uid|Gid|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status
expect_out "Uid:	1000	1000	1000	1000
Gid:	1000	1000	1000	1000
CapInh:	0000000000000000
CapPrm:	0000000000000000
CapEff:	0000000000000000
CapBnd:	0000000000000000
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	2"
case_end "no capabilities in any set, no_new_privs, seccomp filter mode"

run sb "${P[@]}" -- /probe syscalls
expect_status 0
expect_out "$(grep -v "^#" "$(dirname "$0")/syscalls.expected")"
case_end "ptrace, mount, unshare, modules, kexec, bpf and the other escapes fail"

run "$probe" run "$helper" "${P[@]}" -- /probe int80
expect_out "killed by signal 31"
case_end "a getpid through int \$0x80 kills the command with SIGSYS"

run "$probe" run "$helper" "${P[@]}" -- /probe x32
expect_out "killed by signal 31"
case_end "an x32 system call kills the command with SIGSYS"

run sb "${P[@]}" -- /probe pids
expect_out "pids: 1 2"
case_end "the command sees only the sandbox's processes"

run sb "${P[@]}" -- /probe kill $$
expect_out "kill: No such process"
case_end "a process outside cannot be signalled"

run sb "${P[@]}" -- /probe kill-init
expect_status 0
expect_out "kill 1: ok
still here"
case_end "the sandbox's pid 1 shrugs off SIGKILL from the command"

run sb "${P[@]}" -- sh -c '/probe create /usr/x; /probe create /usr/bin/x; /probe create /etc/x; /probe create /x'
expect_out "create: Read-only file system
create: Read-only file system
create: Read-only file system
create: Read-only file system"
case_end "/usr, /etc and / are read-only"

run sb -- sh -c 'ls -A /tmp; echo data >/tmp/f && cat /tmp/f; stat -c %a /tmp'
expect_out "data
1777"
case_end "/tmp is empty and writable"

run sb -- sh -c 'ls /dev; head -c 3 /dev/zero | od -An -tx1; echo x >/dev/null; head -c 16 /dev/urandom | wc -c'
expect_out "fd
full
null
ptmx
pts
random
shm
stderr
stdin
stdout
tty
urandom
zero
 00 00 00
16"
case_end "/dev holds only the minimal nodes, and they work"

run sb -- sh -c 'test -e /sys && echo sys present; readlink /proc/self/ns/pid >/dev/null && cat /proc/1/comm'
expect_out "sandbox-helper"
case_end "/sys is absent and /proc is the sandbox's own"

exec 7</dev/null 9>"$tmp/nine"
run sb "${P[@]}" -- /probe fds
exec 7<&- 9>&-
expect_out "fds: 0 1 2"
case_end "descriptors the caller leaves open do not reach the command"

run sb "${P[@]}" -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; /probe loopback'
expect_out "lo
loopback: ok"
case_end "without --network only lo exists, and loopback works"

"$probe" serve "${outside:-127.0.0.1}" >"$tmp/port" &
server=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -s $tmp/port ]] && break; sleep 0.1; done
port=$(cat "$tmp/port")
run sb "${P[@]}" -- /probe connect "${outside:-none}" "$port"
expect_out "connect: Network is unreachable"
[[ -n $outside ]] || why+=("this machine has no global IPv4 address to try")
case_end "without --network an outside address is unreachable"

run sb --network "${P[@]}" -- /probe connect "${outside:-none}" "$port"
expect_out "connect: ok"
# The server ends with the one connection it serves; without it, it would wait forever.
for _ in {1..50}; do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
kill "$server" 2>/dev/null && why+=("the server outside had no connection")
wait "$server" 2>/dev/null
case_end "with --network an outside address is reachable"

# Writable for everyone but for the mount, which is the only thing in the way.
mkdir -p "$tmp/ro/sub" && echo content >"$tmp/ro/sub/file" && chmod -R a+rwX "$tmp/ro"
run sb --ro-bind "$tmp/ro:/data" "${P[@]}" -- sh -c 'cat /data/sub/file; /probe create /data/new; /probe create /data/sub/file'
expect_out "content
create: Read-only file system
create: Read-only file system"
case_end "--ro-bind is read-only"

mkdir -p "$tmp/rw" && chmod 777 "$tmp/rw"
run sb --bind "$tmp/rw:/out" -- sh -c 'echo written >/out/f'
expect_status 0
[[ $(cat "$tmp/rw/f" 2>/dev/null) == written ]] || why+=("the file did not reach the host")
[[ $(stat -c %u:%g "$tmp/rw/f" 2>/dev/null) == 1000:1000 ]] ||
	why+=("the file belongs to $(stat -c %u:%g "$tmp/rw/f" 2>/dev/null), not 1000:1000")
case_end "--bind is writable, and files belong to the command's uid outside"

run sb --tmpfs /work --ro-bind "$tmp/ro:/work/ro" -- sh -c 'ls -A /work; echo x >/work/f && cat /work/f; cat /work/ro/sub/file; stat -c %u /work'
expect_out "ro
x
content
1000"
case_end "--tmpfs is empty and writable; mounts apply in command-line order"

run sb --cwd /tmp --hostname box-7 --env GREETING=hello -- sh -c 'pwd; hostname; echo "$GREETING"'
expect_out "/tmp
box-7
hello"
case_end "--cwd, --hostname and --env"

run env -i PATH=/usr/bin:/bin TERM=vt100 HOME=/h "$helper" --env LANG=C --env TERM=dumb -- env
expect_out "PATH=/usr/bin:/bin
HOME=/h
LANG=C
TERM=dumb"
run env -i "$helper" -- /usr/bin/env
expect_out "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
case_end "the environment is the caller's, with --env on top"

run sb -- nosuchcommand
expect_status 127
expect_err "sandbox-helper: cannot run nosuchcommand: No such file or directory"
echo 'echo not run' >"$tmp/notexec" && chmod 644 "$tmp/notexec"
run sb --ro-bind "$tmp/notexec:/notexec" -- /notexec
expect_status 126
expect_err "sandbox-helper: cannot run /notexec: Permission denied"
case_end "a missing command is status 127, an unrunnable one 126, each with a sentence"

run sb --uid 0 -- true
expect_status 125
expect_out ""
expect_err "sandbox-helper: --uid 0 would run the command as root; give a user id from 1 to 4294967294.
usage: sandbox-helper [OPTIONS] -- CMD [ARGS...] (sandbox-helper --help lists the options)"
case_end "a usage error is status 125, one sentence and the usage line"

out=$(script -qec "$helper ${P[*]} -- /probe tty" /dev/null </dev/null | tr -d '\r')
expect_out "tty: a terminal, in front"
case_end "a terminal passes through, with the command in front"

run sb -- /usr/bin/python3 -c '
import multiprocessing, os, socket, subprocess, threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
sub = subprocess.run(["echo", "sub"], capture_output=True, text=True).stdout.strip()
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b"x")
with multiprocessing.Pool(2) as pool:
    total = sum(pool.map(abs, [-1, -2]))
print("python", sub, a.recv(1).decode(), total, len(os.urandom(4)))'
expect_status 0
expect_out "python sub x 3 4"
expect_err ""
case_end "Python runs: threads, subprocesses, sockets, multiprocessing"

# busybox picks the applet by its own name, so it keeps that name inside.
bb=$(command -v busybox)
run sb --ro-bind "$bb:/busybox" -- /busybox sh -c \
	'/busybox echo hi | /busybox wc -c; /busybox ls /proc/self/ns | /busybox wc -l; /busybox id -u'
expect_status 0
expect_out "3
$(ls /proc/self/ns | wc -l)
1000"
case_end "busybox runs in the sandbox"

mkdir -p "$tmp/bin" && cp "$helper" "$tmp/bin/sandbox-helper" && chmod 755 "$tmp/bin" "$tmp/bin/sandbox-helper"
run setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/bin/sandbox-helper" -- \
	sh -c 'id -u; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; touch /usr/x'
expect_status 1
expect_out "1000
CapEff:	0000000000000000
NoNewPrivs:	1
Seccomp:	2"
expect_err "touch: cannot touch '/usr/x': Read-only file system"
case_end "an unprivileged caller gets the same sandbox"

start=$(date +%s%N)
for i in 0 1 2 3 4 5 6 7 8 9; do
	sb -- sh -c 'sleep 0.5; echo $$' >"$tmp/many.$i" 2>&1 &
done
wait
elapsed=$((($(date +%s%N) - start) / 1000000))
out=$(cat "$tmp"/many.* | sort | uniq -c | awk '{ print $1, $2 }')
expect_out "10 2"
echo "# ten sandboxes of 0.5 s each took $elapsed ms"
case_end "ten sandboxes at once"

cg=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
"$helper" -- sh -c 'grep "^0::" /proc/self/cgroup; sleep 1' >"$tmp/cgroup.out" &
pid=$!
sleep 0.4
if [[ -n $cg ]] && mkdir -p "$cg/sandbox-helper" 2>/dev/null; then
	leaf=$cg/sandbox-helper/$pid
	[[ $(wc -l <"$leaf/cgroup.procs" 2>/dev/null) -eq 3 ]] ||
		why+=("$leaf does not hold the sandbox's 3 processes")
	if grep -qw pids "$leaf/cgroup.controllers" 2>/dev/null; then
		[[ $(cat "$leaf/pids.max") == 1024 ]] || why+=("pids.max is $(cat "$leaf/pids.max")")
	else
		echo "# no pids controller in $cg: pids.max not checked"
	fi
	wait "$pid"
	[[ ! -e $leaf ]] || why+=("$leaf is left behind")
else
	echo "# no writable cgroup v2 here: the sandbox runs without a leaf"
	wait "$pid"
fi
out=$(cat "$tmp/cgroup.out")
expect_out "0::/"
case_end "the sandbox has a cgroup namespace, and a cgroup leaf when cgroup v2 is writable"

finish
