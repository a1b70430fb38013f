#!/usr/bin/env bash
# escape.sh - the sandbox against a hostile command, on a real VM: the earlier escapes
# (ptrace, mount, unshare, modules, int 0x80, writes to /usr, host pids), one case each,
# passing when the attack fails for the reason the sandbox gives.
#
# The holes of issue 11 have their attacks beside the code that closes them, each case
# named by its hole's number:
#   1       escape-net.sh    no route to the host; --internet and --allow through vmctl egress
#   2, 5    escape-share.sh  setuid, devices and foreign owners through a share; QEMU as
#                            nobody; the console and QEMU's log bounded
#   3, 7    escape-auth.sh   a port squatter learns nothing; the web page's own token
#   4, 6, 11 escape-vmd.sh   links planted in a share or a home; memory and tmpfs limits;
#                            a home per uid, deleted without following links
#   8       tests/vmd (test_vmd_e2e, cases 8a-8c) and tests/unit/test_proto.c
#   9, 10   hostile.sh       vmctl against a hostile vmd: escapes, paths, endless and
#                            stalled data, oversized frames
#
# Plan
#   1  vmctl start boots a VM and prints its port
#   2  E1 ptrace and process_vm_readv of another process are refused
#   3  E2 mount, umount2, pivot_root and chroot are refused
#   4  E3 unshare, clone with a new user namespace and setns are refused
#   5  E4 loading and removing kernel modules is refused, and so is kexec
#   6  E5 a getpid through int 0x80 or the x32 ABI kills the command (SIGSYS, 159)
#   7  E6 writes to /usr, /usr/local/bin, /etc and / are refused; /tmp is the command's
#   8  E7 the command sees only its own processes: not the guest's, not the host's
#   9  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
plan 9
vm_suite_ready escape.sh

vm_start_case "vmctl start boots a VM and prints its port"
case_end "vmctl start boots a VM and prints its port"

# The probe, where sandboxed commands see it (through their read-only /usr).
run ex --raw -- sh -c 'mkdir -p /usr/local/bin && cat >/usr/local/bin/probe && chmod 755 /usr/local/bin/probe' <"$probe"
[[ $status -eq 0 ]] || echo "# cannot install the probe: status $status, $err"
run ex -- probe syscalls </dev/null
calls=$out
# only: the lines of the probe's syscalls report that begin with one of the words given
only() {
	local w re=''
	for w in "$@"; do re+="${re:+|}$w"; done
	grep -E "^($re):" <<<"$calls"
}
# The case's lines, as a sandboxed command got them, and as they must read.
calls_case() {
	local name=$1 want=$2
	shift 2
	out=$(only "$@")
	status=0 err=''
	expect_out "$want"
	case_end "$name"
}

calls_case "E1 ptrace and process_vm_readv of another process are refused" \
	"ptrace: Operation not permitted
process_vm_readv: Operation not permitted" ptrace process_vm_readv
calls_case "E2 mount, umount2, pivot_root and chroot are refused" \
	"mount: Operation not permitted
umount2: Operation not permitted
pivot_root: Operation not permitted
chroot: Operation not permitted" mount umount2 pivot_root chroot
calls_case "E3 unshare, clone with a new user namespace and setns are refused" \
	"unshare: Operation not permitted
clone newuser: Operation not permitted
setns: Operation not permitted" unshare "clone newuser" setns
calls_case "E4 loading and removing kernel modules is refused, and so is kexec" \
	"init_module: Operation not permitted
finit_module: Operation not permitted
delete_module: Operation not permitted
kexec_load: Operation not permitted" init_module finit_module delete_module kexec_load

run ex -- probe int80 </dev/null
expect_status 159
expect_out ""
run ex -- probe x32 </dev/null
expect_status 159
expect_out ""
case_end "E5 a getpid through int 0x80 or the x32 ABI kills the command (SIGSYS, 159)"

run ex -- sh -c 'for p in /usr/x /usr/local/bin/x /etc/x /x /tmp/x; do probe create $p; done' </dev/null
expect_status 0
expect_out "create: Read-only file system
create: Read-only file system
create: Read-only file system
create: Read-only file system
create: ok"
run ex --raw -- sh -c 'ls /usr/x /usr/local/bin/x /etc/x /x 2>&1 | grep -c "No such file"' </dev/null
expect_out "4"
case_end "E6 writes to /usr, /usr/local/bin, /etc and / are refused; /tmp is the command's"

# The guest's own processes (vmd, init, kernel threads) and the host's are out of
# sight: the command's pid namespace holds sandbox-helper (1) and the probe (2).
run ex -- probe pids </dev/null
expect_out "pids: 1 2"
qemu=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$state/$P.json")
run ex -- sh -c "probe kill $qemu; probe kill $$; ls /proc/$qemu 2>&1 >/dev/null | grep -c 'No such file'" </dev/null
expect_out "kill: No such process
kill: No such process
1"
case_end "E7 the command sees only its own processes: not the guest's, not the host's"

vm_stop_case
