#!/usr/bin/env bash
# escape-share.sh - a hostile guest against the host through its shares and its logs
# (issue 11, holes 2 and 5), on a real VM with vmctl run as root, as the suites run.
# Each numbered case but 2h (a check that read-only still holds) is an attack that
# worked before (QEMU ran as root with 9p's security_model=none, and wrote the console
# and its own output to unbounded files) and must fail now. One VM is booted with a read-write and a read-only share; two more
# starts use a stand-in launcher that floods QEMU's log first.
#
# Plan
#   1  start: a read-write share on a filesystem without user xattrs, and a share that
#      cannot be idmapped, are refused with a sentence before any VM starts
#   2  vmctl start --share DIR rw --share-ro DIR2 ro boots and prints its port
#   3  2a QEMU runs as nobody, not as root
#   4  2b QEMU sees each share through an idmapped nosuid,nodev mount of its own,
#      read-only for --share-ro
#   5  2c busybox copied into the share by guest root and made setuid or setgid has
#      neither bit on the host, and is root's (the vmctl user's), mode 0600
#   6  2d a chown by guest root leaves the host owner as it was
#   7  2e device nodes, a fifo and a symlink made by guest root are plain files on the host
#   8  2f guest root's chmod 6777 of a host file leaves its host mode as it was
#   9  2g a sandboxed command writes only where everyone may, and what it makes is root's 0600
#  10  2h the read-only share refuses writes from guest root
#  11  5a 16 MiB written to the serial port grow the state folder by at most 1 MiB
#  12  5b the last console line is still there, behind a marker line
#  13  5c QEMU's log stays under 256 KiB however much is written to it, and keeps its last line
#  14  5d a start that fails names the last line of a flooded log
#  15  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
plan 15
vm_suite_ready escape-share.sh

FLOOD_MIB=${FLOOD_MIB:-16}	# 64 takes about 90 s of TCG; the cap is the same
nobody_uid=$(id -u nobody) nobody_gid=$(id -g nobody)
rw=$tmp/rw ro=$tmp/ro ramfs=$tmp/ramfs
mkdir -p "$rw/alice" "$rw/world" "$ro" "$ramfs"
chmod 0777 "$rw/world"
echo "alice's" >"$rw/alice.txt"
chown -R 1000:1000 "$rw/alice" "$rw/alice.txt"
echo "root's" >"$rw/root.txt"
echo "root's alone" >"$rw/root-alone.txt"
echo "read only" >"$ro/kept.txt"
# host_stat FILE...: "NAME MODE UID:GID" per file as the host sees it, the mode as ls
# shows it (its first letter the type: - for a plain file).
host_stat() { stat -c '%n %A %u:%g' "$@" | sed "s|^$rw/||"; }
vms() { find "$state" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }
trap 'umount "$ramfs" 2>/dev/null; vm_cleanup' EXIT

# --- 1: shares that cannot be made safe ----------------------------------------------
mount -t ramfs -o mode=0755 none "$ramfs" || { echo "Bail out! cannot mount a ramfs on $ramfs"; exit 1; }
before=$(vms)
# stop_started: a start that should have been refused did start: stop it.
stop_started() { [[ $status -ne 0 || -z $out ]] || $T 30 "$vmctl" stop "$out" >/dev/null 2>&1; }
run $T 30 "$vmctl" start --share "$ramfs" data
stop_started
expect_status 1
expect_out ""
expect_err "vmctl: cannot share $ramfs read-write: its filesystem has no user extended attributes, where QEMU keeps the owners and modes the guest sets (share it read-only, or share a folder on ext4, xfs, btrfs or tmpfs)."
run $T 30 "$vmctl" start --share-ro "$ramfs" data
stop_started
expect_status 1
expect_out ""
expect_err "vmctl: cannot share $ramfs: its filesystem does not support idmapped mounts, through which QEMU (running as nobody) owns the share's files instead of root."
[[ $(vms) == "$before" ]] || why+=("a refused start left a state file")
case_end "start: a read-write share on a filesystem without user xattrs, and a share that cannot be idmapped, are refused with a sentence before any VM starts"
umount "$ramfs"

# --- 2: the VM -------------------------------------------------------------------------
vm_start_case "vmctl start --share DIR rw --share-ro DIR2 ro boots and prints its port" \
	--share "$rw" rw --share-ro "$ro" ro
case_end "vmctl start --share DIR rw --share-ro DIR2 ro boots and prints its port"
qpid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$state/$P.json")

# --- 2a-2h: what QEMU is, and what reaches the host through a share -----------------
run grep -E '^(Uid|Gid):' "/proc/$qpid/status"
expect_out "Uid:	$nobody_uid	$nobody_uid	$nobody_uid	$nobody_uid
Gid:	$nobody_gid	$nobody_gid	$nobody_gid	$nobody_gid"
case_end "2a QEMU runs as nobody, not as root"

# mountinfo: field 5 is the mount point, field 6 its options.
run awk -v rw="$rw" -v ro="$ro" '$5 == rw || $5 == ro { print ($5 == rw ? "rw" : "ro"), $6 }' \
	"/proc/$qpid/mountinfo"
expect_out "rw rw,nosuid,nodev,relatime,idmapped
ro ro,nosuid,nodev,relatime,idmapped"
case_end "2b QEMU sees each share through an idmapped nosuid,nodev mount of its own, read-only for --share-ro"

run ex --raw -- sh -c 'cd /mnt/rw && cp /bin/busybox suid && chmod 4755 suid &&
	cp /bin/busybox sgid && chmod 2755 sgid && stat -c "%n %a %u:%g" suid sgid'
expect_status 0
expect_err ""
# The guest keeps its own view (QEMU's user.virtfs.* attributes): that is inside the VM.
expect_out "suid 4755 0:0
sgid 2755 0:0"
run host_stat "$rw/suid" "$rw/sgid"
expect_out "suid -rw------- 0:0
sgid -rw------- 0:0"
case_end "2c busybox copied into the share by guest root and made setuid or setgid has neither bit on the host, and is root's (the vmctl user's), mode 0600"

run ex --raw -- sh -c 'cd /mnt/rw && touch owned && chown 1234:1234 owned root.txt && stat -c "%n %u:%g" owned root.txt'
expect_status 0
expect_out "owned 1234:1234
root.txt 1234:1234"
run host_stat "$rw/owned" "$rw/root.txt"
expect_out "owned -rw------- 0:0
root.txt -rw-r--r-- 0:0"
case_end "2d a chown by guest root leaves the host owner as it was"

run ex --raw -- sh -c 'cd /mnt/rw && mknod mem c 1 1 && mknod disk b 254 0 && mkfifo fifo &&
	ln -s /etc/shadow link && stat -c "%n %F" mem disk fifo link'
expect_status 0
expect_out "mem character special file
disk block special file
fifo fifo
link symbolic link"
run host_stat "$rw/disk" "$rw/fifo" "$rw/link" "$rw/mem"
expect_out "disk -rw------- 0:0
fifo -rw------- 0:0
link -rw------- 0:0
mem -rw------- 0:0"
case_end "2e device nodes, a fifo and a symlink made by guest root are plain files on the host"

# root.txt is root's on the host, so QEMU's own through its mapping: the mode is kept
# in an attribute. alice.txt is another user's, nobody's to QEMU: no attribute either.
run ex --raw -- sh -c 'chmod 6777 /mnt/rw/root.txt && stat -c "%a" /mnt/rw/root.txt; chmod 6777 /mnt/rw/alice.txt'
expect_status 1
expect_out "6777"
expect_err "chmod: /mnt/rw/alice.txt: Operation not permitted"
run host_stat "$rw/alice.txt" "$rw/root.txt"
expect_out "alice.txt -rw-r--r-- 1000:1000
root.txt -rw-r--r-- 0:0"
case_end "2f guest root's chmod 6777 of a host file leaves its host mode as it was"

# Sandboxed (uid 1000 in the guest): a host file of uid 1000 is not its own; through
# QEMU's mapping, every file it did not make is nobody's.
run ex -- sh -c 'cd /mnt/rw; for f in alice.txt root-alone.txt; do echo x 2>/dev/null >>$f && echo "$f: written" || echo "$f: refused"; done
	for d in alice world .; do touch $d/made 2>/dev/null && echo "$d/made: made" || echo "$d/made: refused"; done'
expect_status 0
expect_out "alice.txt: refused
root-alone.txt: refused
alice/made: refused
world/made: made
./made: refused"
run host_stat "$rw/world/made"
expect_out "world/made -rw------- 0:0"
[[ $(cat "$rw/alice.txt") == "alice's" && $(cat "$rw/root-alone.txt") == "root's alone" ]] ||
	why+=("a file changed: $(cat "$rw/alice.txt" "$rw/root-alone.txt")")
case_end "2g a sandboxed command writes only where everyone may, and what it makes is root's 0600"

run ex --raw -- sh -c 'echo x >/mnt/ro/kept.txt; touch /mnt/ro/new'
expect_status 1
expect_err "sh: can't create /mnt/ro/kept.txt: Read-only file system
touch: /mnt/ro/new: Read-only file system"
[[ $(cat "$ro/kept.txt") == "read only" && ! -e $ro/new ]] || why+=("the read-only folder changed")
case_end "2h the read-only share refuses writes from guest root"

# --- 5a-5d: the logs -----------------------------------------------------------------
# sizes of the state folder in bytes: the files' apparent sizes and their blocks
# (but the home disks, which hold what the guest writes to its disk, not to the port)
folder_bytes() { du -sb --exclude='*.disk.qcow2' "$state" | cut -f1; }
folder_blocks() { du -sk --exclude='*.disk.qcow2' "$state" | cut -f1; }
b0=$(folder_bytes) k0=$(folder_blocks)
# (its own bound: a busy host slows the emulated port well past the usual 60 s)
run $T 240 "$vmctl" exec "$P" --raw -- sh -c "yes 'a flood of the serial console from guest root' | head -c $((FLOOD_MIB << 20)) >/dev/ttyS0; echo flooded"
expect_status 0
expect_out "flooded"
b1=$(folder_bytes) k1=$(folder_blocks)
[[ $((b1 - b0)) -le 1048576 ]] || why+=("the state folder grew by $((b1 - b0)) bytes")
[[ $((k1 - k0)) -le 1024 ]] || why+=("the state folder grew by $((k1 - k0)) KiB of blocks")
size=$(stat -c %s "$state/$P.console")
[[ $size -le 1048576 && $size -ge 400000 ]] || why+=("the console is $size bytes: not kept between 400000 and 1 MiB")
case_end "5a $FLOOD_MIB MiB written to the serial port grow the state folder by at most 1 MiB"

# (the flood ended mid-line)
run ex --raw -- sh -c 'printf "\n5b: the last line on the console\n" >/dev/ttyS0'
expect_status 0
for _ in $(seq 50); do
	last=$(tail -n 1 "$state/$P.console" | tr -d '\r')
	[[ $last == "5b: the last line on the console" ]] && break
	sleep 0.1
done
[[ $last == "5b: the last line on the console" ]] || why+=("the console ends with: $(printf '%q' "$last")")
first=$(head -n 1 "$state/$P.console")
[[ $first == "[vmctl: older lines dropped to keep this file small]" ]] ||
	why+=("the console begins with: $(printf '%q' "${first:0:100}")")
second=$(sed -n 2p "$state/$P.console" | tr -d '\r')
[[ $second == "a flood of the serial console from guest root" ]] ||
	why+=("the console's kept part begins mid-line: $(printf '%q' "${second:0:100}")")
case_end "5b the last console line is still there, behind a marker line"

# A stand-in launcher that floods the log first, as a guest could make QEMU do with a
# warning printed for each of its requests, then runs qemu-boot (or gives up).
cat >"$tmp/flood-launcher" <<EOF
#!/usr/bin/env bash
yes "qemu-system-x86_64: warning: the same warning again" | head -c 4194304 >&2
echo >&2
echo "stand-in: the last words before QEMU" >&2
[[ \${FLOOD_GIVE_UP:-} != 1 ]] || { echo "stand-in: QEMU gave up" >&2; exit 1; }
exec "$(cd "$here/../.." && pwd)/host/qemu-boot" "\$@"
EOF
chmod +x "$tmp/flood-launcher"
run $T 120 env VMCTL_QEMU_BOOT="$tmp/flood-launcher" "$vmctl" start --cold
expect_status 0
P2=$out
if [[ $status -eq 0 ]]; then
	size=$(stat -c %s "$state/$P2.log")
	[[ $size -le 262144 ]] || why+=("QEMU's log is $size bytes")
	first=$(head -n 1 "$state/$P2.log")
	[[ $first == "[vmctl: older lines dropped to keep this file small]" ]] ||
		why+=("the log begins with: $(printf '%q' "${first:0:100}")")
	last=$(tail -n 1 "$state/$P2.log")
	[[ $last == "stand-in: the last words before QEMU" ]] || why+=("the log ends with: $(printf '%q' "$last")")
	$T 30 "$vmctl" stop "$P2" >/dev/null 2>&1 || why+=("vmctl stop $P2 failed")
fi
case_end "5c QEMU's log stays under 256 KiB however much is written to it, and keeps its last line"

before=$(find "$state" -maxdepth 1 | wc -l)
run $T 60 env VMCTL_QEMU_BOOT="$tmp/flood-launcher" FLOOD_GIVE_UP=1 "$vmctl" start --cold
stop_started
expect_status 1
expect_out ""
expect_err "vmctl: QEMU stopped while starting the sandbox: stand-in: QEMU gave up"
[[ $(find "$state" -maxdepth 1 | wc -l) == "$before" ]] || why+=("the failed start left files in $state")
case_end "5d a start that fails names the last line of a flooded log"

# --- 15: stop -------------------------------------------------------------------------
vm_stop_case
finish
