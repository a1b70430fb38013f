#!/usr/bin/env bash
# shares.sh - host folders in a real VM (QEMU 9p; TCG where there is no KVM): vmctl
# start --share and --share-ro, what sandboxed and raw commands can do with them, and
# vmd's mount and unmount requests (sent with tests/vmctl/wstool.c). One VM is booted
# with a read-write share and a read-only one whose folder name has a space and a
# comma, and stopped by the last case (or on exit, whatever happened).
#
# Plan
#   1  start: a share path that does not exist, or a file, is refused before any VM starts
#   2  start: bad TAGs (a "/", "..", 32 bytes, empty, a repeated one) exit 2 with the usage line
#   3  vmctl start --share DIR rw --share-ro "DIR2" ro boots and prints its port
#   4  the shares are mounted at /mnt/TAG at boot: rw read-write, ro read-only, both
#      nosuid,nodev, as sandboxed commands see them
#   5  a sandboxed command reads a host file from each share, and sees host changes
#   6  a sandboxed command writes into the read-write share: the host has the file
#   7  the read-only share refuses writes, sandboxed and raw, and the host folder is unchanged
#   8  mount of a tag mounted at boot, read_only: the share appears there too, read-only
#   9  unmount: the mount point is empty again; a second unmount is -32602
#  10  mount: an unknown tag, and mount points outside /mnt or with "..", are -32602
#      and create nothing
#  11  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
plan 11
vm_suite_ready shares.sh
need_wstool

usage_start='usage: vmctl start [IMAGE] [--kernel K] [--initrd I] [--share[-ro] HOST TAG]... [--memory MIB] [--cpus N] [--internet | --allow HOST[:PORT]...] [--disk SIZE] [--cold]'
vms() { find "$state" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }

rw=$tmp/rw ro="$tmp/read only,1"
mkdir -p "$rw" "$ro"
chmod 0777 "$rw"	# the sandbox user (uid 1000) writes there: to it, and to QEMU, the folder is nobody's
echo "from the host" >"$ro/hello.txt"
echo "rw file" >"$rw/mine.txt"
(cd "$ro" && find . | sort) >"$tmp/ro-before"

# --- 1-2: bad shares ----------------------------------------------------------------
before=$(vms)
run $T 30 "$vmctl" start --share "$tmp/none" data
expect_status 1
expect_out ""
expect_err "vmctl: cannot share $tmp/none: No such file or directory"
run $T 30 "$vmctl" start --share "$ro/hello.txt" data
expect_status 1
expect_err "vmctl: cannot share $ro/hello.txt: it is not a folder."
[[ $(vms) == "$before" ]] || why+=("a refused start left a state file")
case_end "start: a share path that does not exist, or a file, is refused before any VM starts"

for tag in a/b .. "$(printf 'x%.0s' {1..32})" ""; do
	run $T 30 "$vmctl" start --share "$rw" "$tag"
	expect_status 2
	expect_err "vmctl: --share wants a TAG of 1 to 31 letters, digits, \"_\", \"-\" or \".\" (not \".\" or \"..\"), not \"$tag\".
$usage_start"
done
run $T 30 "$vmctl" start --share "$rw" data --share-ro "$ro" data
expect_status 2
expect_err "vmctl: the share tag \"data\" is given twice; each share needs its own.
$usage_start"
run $T 30 "$vmctl" start --share-ro "$rw"
expect_status 2
expect_err "vmctl: --share-ro needs a host folder and a tag.
$usage_start"
case_end "start: bad TAGs (a \"/\", \"..\", 32 bytes, empty, a repeated one) exit 2 with the usage line"

# --- 3: start -------------------------------------------------------------------------
vm_start_case "vmctl start --share DIR rw --share-ro DIR2 ro boots and prints its port" --share "$rw" rw --share-ro "$ro" ro
case_end "vmctl start --share DIR rw --share-ro DIR2 ro boots and prints its port"

# --- 4-7: the shares at boot --------------------------------------------------------
run ex -- sh -c "awk '\$2 ~ /^\\/mnt\\// { split(\$4, o, \",\"); print \$1, \$2, \$3, o[1], (\$4 ~ /nosuid/ && \$4 ~ /nodev/) }' /proc/mounts"
expect_status 0
expect_out "rw /mnt/rw 9p rw 1
ro /mnt/ro 9p ro 1"
case_end "the shares are mounted at /mnt/TAG at boot: rw read-write, ro read-only, both nosuid,nodev, as sandboxed commands see them"

run ex -- cat /mnt/ro/hello.txt /mnt/rw/mine.txt
expect_status 0
expect_out "from the host
rw file"
echo "changed on the host" >"$rw/mine.txt"
run ex -- cat /mnt/rw/mine.txt
expect_out "changed on the host"
case_end "a sandboxed command reads a host file from each share, and sees host changes"

run ex -- sh -c 'echo "made in the sandbox" >/mnt/rw/made.txt'
expect_status 0
expect_err ""
[[ $(cat "$rw/made.txt" 2>&1) == "made in the sandbox" ]] ||
	why+=("the host has: $(cat "$rw/made.txt" 2>&1)")
case_end "a sandboxed command writes into the read-write share: the host has the file"

run ex -- sh -c 'echo x >/mnt/ro/new.txt'
expect_status 1
expect_err "sh: can't create /mnt/ro/new.txt: Read-only file system"
run ex --raw -- sh -c 'echo x >/mnt/ro/hello.txt; rm /mnt/ro/hello.txt'
expect_status 1
expect_err "sh: can't create /mnt/ro/hello.txt: Read-only file system
rm: can't remove '/mnt/ro/hello.txt': Read-only file system"
(cd "$ro" && find . | sort) | cmp -s - "$tmp/ro-before" || why+=("the read-only folder changed")
[[ $(cat "$ro/hello.txt") == "from the host" ]] || why+=("hello.txt changed")
case_end "the read-only share refuses writes, sandboxed and raw, and the host folder is unchanged"

# --- 8-10: mount and unmount requests -----------------------------------------------
run talk <<'EOF'
mount {"id":1,"tag":"rw","mount_point":"/mnt/again","read_only":true}
spawn {"id":2,"command":"sh","args":["-c","cat /mnt/again/made.txt; grep -c ' /mnt/again 9p ro,' /proc/mounts; echo x >/mnt/again/x"]}
EOF
expect_status 0
expect_out 'ok {"id":1}
spawned {"id":2,"pid":0,"handle":"H"}
stdout "made in the sandbox\n1\n"
stderr "sh: can'"'"'t create /mnt/again/x: Read-only file system\n"
exit {"id":2,"handle":"H","code":1}'
[[ ! -e $rw/x ]] || why+=("the write through the read-only mount reached the host")
case_end "mount of a tag mounted at boot, read_only: the share appears there too, read-only"

run talk <<'EOF'
unmount {"id":3,"mount_point":"/mnt/again"}
spawn {"id":4,"command":"ls","args":["-A","/mnt/again"]}
unmount {"id":5,"mount_point":"/mnt/again"}
EOF
expect_out 'ok {"id":3}
spawned {"id":4,"pid":0,"handle":"H"}
exit {"id":4,"handle":"H","code":0}
error {"id":5,"code":-32602,"message":"unmount: /mnt/again is not a mount point."}'
case_end "unmount: the mount point is empty again; a second unmount is -32602"

run talk <<'EOF'
mount {"id":6,"tag":"nope","mount_point":"/mnt/nope"}
mount {"id":7,"tag":"rw","mount_point":"/etc/x"}
mount {"id":8,"tag":"rw","mount_point":"/mnt/../etc"}
mount {"id":9,"tag":"rw","mount_point":"/mnt"}
spawn {"id":10,"command":"ls","args":["/mnt"],"raw":true}
EOF
expect_out 'error {"id":6,"code":-32602,"message":"mount: no share with tag \"nope\"."}
error {"id":7,"code":-32602,"message":"mount: the mount point \"/etc/x\" must be a path under /mnt without \".\" or \"..\"."}
error {"id":8,"code":-32602,"message":"mount: the mount point \"/mnt/../etc\" must be a path under /mnt without \".\" or \"..\"."}
error {"id":9,"code":-32602,"message":"mount: the mount point \"/mnt\" must be a path under /mnt without \".\" or \"..\"."}
spawned {"id":10,"pid":0,"handle":"H"}
stdout "again\nro\nrw\n"
exit {"id":10,"handle":"H","code":0}'
case_end "mount: an unknown tag, and mount points outside /mnt or with \"..\", are -32602 and create nothing"

# --- 11: stop -------------------------------------------------------------------------
vm_stop_case
finish
