#!/usr/bin/env bash
# sessions.sh - users of a sandbox on a real VM (QEMU; TCG where there is no KVM):
# vmctl session create/destroy, exec and cp as a session's uid, what one user can
# reach of another's files, and vmd's load_state and is_running (sent with
# tests/vmctl/wstool.c). One VM is booted for the suite and stopped by the last case
# (or on exit, whatever happened).
#
# Plan
#   1  vmctl start boots a VM and prints its port
#   2  session create prints the new home: /home/NAME, or /home/uUID without a NAME
#   3  exec --uid runs as that user, in its home, with HOME set, and sees only its
#      own home under /home; the homes are 0700 and owned by their users
#   4  session create: a uid or a name already taken, or the reserved name, exits 1
#      with vmd's sentence
#   5  session: bad UIDs and NAMEs and usage mistakes exit 2 with the usage line
#   6  one user cannot reach another's files: not sandboxed (no such file), not raw
#      (permission denied), not by cp --uid
#   7  the default sandbox user sees no session's home
#   8  load_state reads a file of the session's home and nothing outside it
#   9  is_running: true for a live process, false with its code once it was killed
#  10  session destroy kills the user's running commands (exit 137), and what left
#      their process group, and keeps its home
#  11  a user created again finds its files; destroy --delete-home removes the home
#  12  session destroy of a uid without a session exits 1 with vmd's sentence
#  13  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
plan 13
vm_suite_ready sessions.sh
need_wstool

ses() { $T 60 "$vmctl" session "$@"; }
# procs_of UID: how many processes of the guest run as UID (raw: the whole guest).
procs_of() {
	ex --raw -- sh -c 'n=0; for d in /proc/[0-9]*; do
		[ "$(stat -c %u "$d" 2>/dev/null)" = "$1" ] && n=$((n + 1)); done; echo $n' sh "$1"
}
usage='usage: vmctl session create [--idle-timeout S] PORT UID [NAME] | destroy [--delete-home] [--idle-timeout S] PORT UID'

# --- 1: start -------------------------------------------------------------------------
vm_start_case "vmctl start boots a VM and prints its port"
case_end "vmctl start boots a VM and prints its port"

# --- 2-5: create ----------------------------------------------------------------------
run ses create "$P" 1001 ann
expect_status 0
expect_out "/home/ann"
expect_err ""
run ses create "$P" 1002
expect_status 0
expect_out "/home/u1002"
case_end "session create prints the new home: /home/NAME, or /home/uUID without a NAME"

run ex --uid 1001 -- sh -c 'id -u; id -g; pwd; echo "$HOME"; ls -A /home'
expect_status 0
expect_out "1001
1001
/home/ann
/home/ann
ann"
run ex --raw -- stat -c '%n %a %u %g' /home/ann /home/u1002 /home/sandbox
expect_out "/home/ann 700 1001 1001
/home/u1002 700 1002 1002
/home/sandbox 700 1000 1000"
case_end "exec --uid runs as that user, in its home, with HOME set, and sees only its own home under /home; the homes are 0700 and owned by their users"

run ses create "$P" 1001 other
expect_status 1
expect_err "vmctl: session_create: uid 1001 already has a session."
run ses create "$P" 1003 ann
expect_status 1
expect_err "vmctl: session_create: the username \"ann\" is already taken by uid 1001."
run ses create "$P" 1003 sandbox
expect_status 1
expect_err "vmctl: session_create: the username \"sandbox\" is reserved for the default sandbox user."
case_end "session create: a uid or a name already taken, or the reserved name, exits 1 with vmd's sentence"

bad() {
	run ses "$@"
	expect_status 2
	expect_out ""
	expect_err "vmctl: $msg
$usage"
}
msg='UID wants a whole number from 1000 to 60000, not "999".' bad create "$P" 999
msg='UID wants a whole number from 1000 to 60000, not "60001".' bad create "$P" 60001
msg='session create wants a NAME of 1 to 32 lower-case letters, digits, "_" or "-", starting with a letter or "_", not "Ann".' \
	bad create "$P" 1004 Ann
msg='session create wants a NAME of 1 to 32 lower-case letters, digits, "_" or "-", starting with a letter or "_", not "../x".' \
	bad create "$P" 1004 ../x
msg='session wants create or destroy, not "list".' bad list "$P"
msg='session destroy takes PORT and UID, so "ann" is one too many.' bad destroy "$P" 1001 ann
msg='session create takes no option --delete-home.' bad create --delete-home "$P" 1001
msg='session destroy needs the PORT that vmctl start printed and a UID.' bad destroy "$P"
case_end "session: bad UIDs and NAMEs and usage mistakes exit 2 with the usage line"

# --- 6-9: isolation, load_state, is_running --------------------------------------------
echo "ann's secret" >"$tmp/secret.txt"
run $T 60 "$vmctl" cp --uid 1001 "$tmp/secret.txt" "$P:/home/ann/secret.txt"
expect_status 0
run ex --uid 1002 -- cat /home/ann/secret.txt
expect_status 1
expect_err "cat: can't open '/home/ann/secret.txt': No such file or directory"
run ex --uid 1002 --raw -- cat /home/ann/secret.txt
expect_status 1
expect_err "cat: can't open '/home/ann/secret.txt': Permission denied"
run $T 60 "$vmctl" cp --uid 1002 "$P:/home/ann/secret.txt" "$tmp/stolen"
expect_status 1
expect_err "vmctl: fs_read: the path \"/home/ann/secret.txt\" escapes /home/u1002."
[[ ! -e $tmp/stolen ]] || why+=("cp left $tmp/stolen")
run $T 60 "$vmctl" cp --uid 1002 "$tmp/secret.txt" "$P:/home/ann/planted"
expect_status 1
expect_err "vmctl: file_put: the path \"/home/ann\" escapes /home/u1002."
run ex --uid 1001 -- cat /home/ann/secret.txt
expect_status 0
expect_out "ann's secret"
case_end "one user cannot reach another's files: not sandboxed (no such file), not raw (permission denied), not by cp --uid"

run ex -- sh -c 'ls -A /home; cat /home/ann/secret.txt'
expect_status 1
expect_out "sandbox"
expect_err "cat: can't open '/home/ann/secret.txt': No such file or directory"
run $T 60 "$vmctl" cp "$P:/home/ann/secret.txt" "$tmp/stolen"
expect_status 1
expect_err "vmctl: fs_read: the path \"/home/ann/secret.txt\" escapes /home/sandbox."
case_end "the default sandbox user sees no session's home"

run talk <<'EOF'
load_state {"id":1,"session_id":1001,"state_path":"/home/ann/secret.txt"}
load_state {"id":2,"session_id":1001,"state_path":"/home/ann/../u1002"}
load_state {"id":3,"session_id":1002,"state_path":"/home/ann/secret.txt"}
load_state {"id":4,"session_id":1009,"state_path":"/home/u1009/x"}
EOF
expect_status 0
expect_out 'data "ann'"'"'s secret\n"
ok {"id":1,"size":13}
error {"id":2,"code":-32602,"message":"load_state: the path \"/home/ann/../u1002\" escapes /home/ann."}
error {"id":3,"code":-32602,"message":"load_state: the path \"/home/ann/secret.txt\" escapes /home/u1002."}
error {"id":4,"code":-32602,"message":"load_state: uid 1009 has no session."}'
case_end "load_state reads a file of the session's home and nothing outside it"

run talk <<'EOF'
&spawn {"id":1,"command":"sleep","args":["600"],"uid":1001}
is_running {"id":2,"handle":"$H"}
kill {"id":3,"handle":"$H","signal":9}
wait 1
is_running {"id":4,"handle":"$H"}
is_running {"id":5,"handle":"00000000000000000000000000000000"}
EOF
expect_status 0
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
running_status {"id":2,"handle":"H","running":true,"pid":0}
ok {"id":3}
exit {"id":1,"handle":"H","code":137,"signal":9}
running_status {"id":4,"handle":"H","running":false,"code":137,"signal":9}
error {"id":5,"code":-32001,"message":"no process with handle \"00000000000000000000000000000000\" on this connection."}'
case_end "is_running: true for a live process, false with its code once it was killed"

# --- 10-12: destroy -------------------------------------------------------------------
$T 60 "$vmctl" exec "$P" --uid 1001 -- sleep 600 >/dev/null 2>"$tmp/bg-err" &
bg=$!
# and one that left its process group and its parent: raw, in a new session
run ex --uid 1001 --raw -- sh -c 'setsid sleep 700 </dev/null >/dev/null 2>&1 &'
expect_status 0
for _ in $(seq 100); do
	[[ $(procs_of 1001) -ge 3 ]] && break	# the sandbox's helper and sleep, and the other
	sleep 0.1
done
[[ $(procs_of 1001) -ge 3 ]] || why+=("uid 1001 runs $(procs_of 1001) processes, not 3 or more")
run ses destroy "$P" 1001
expect_status 0
expect_out ""
expect_err ""
wait "$bg"
bgs=$?
[[ $bgs -eq 137 ]] || why+=("the running exec ended with $bgs, not 137: $(cat "$tmp/bg-err")")
run procs_of 1001
expect_out "0"
run ex --raw -- ls -A /home/ann
expect_out "secret.txt"
case_end "session destroy kills the user's running commands (exit 137), and what left their process group, and keeps its home"

run ses create "$P" 1001 ann
expect_out "/home/ann"
run ex --uid 1001 -- cat secret.txt
expect_out "ann's secret"
run ses destroy --delete-home "$P" 1001
expect_status 0
run ex --raw -- ls -A /home
expect_out "sandbox
u1002"
case_end "a user created again finds its files; destroy --delete-home removes the home"

run ses destroy "$P" 1001
expect_status 1
expect_err "vmctl: session_destroy: uid 1001 has no session."
case_end "session destroy of a uid without a session exits 1 with vmd's sentence"

# --- 13: stop -------------------------------------------------------------------------
vm_stop_case
finish
