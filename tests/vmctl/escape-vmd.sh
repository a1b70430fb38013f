#!/usr/bin/env bash
# escape-vmd.sh - attacks on vmd from inside a real VM (QEMU; TCG where there is no KVM):
# links a sandboxed command plants in a share for vmd's mount and unmount to follow
# (issue 11, hole 4), a sandboxed command that takes all memory or fills every
# writable place (hole 6), and links planted in a home that session_destroy removes
# (hole 11). Each case first shows the attack's ground is laid (the link is there,
# the target exists), then that the attack fails with vmd's exact sentence. The
# protocol's NUL and control characters (hole 8) and the reuse of a username (hole
# 11) are tests/vmd/test_vmd_e2e.c's, which drives the same vmd on this host.
#
# Plan
#   1  vmctl start --share DIR rw boots and prints its port
#   2  4a a mount on a link planted in the share (tools -> /usr/local/bin) is refused; /usr/local/bin is not covered
#   3  4b a mount through a link to /tmp, to /sys/fs/cgroup or up a ../ chain is refused and creates nothing
#   4  4c an unmount through a link drops neither a tmpfs outside /mnt nor the cgroup mount that holds the limits
#   5  4d mount and unmount of a real folder inside the share still work
#   6  6a a shell doubling a string ends with 137, signal 9 and reason oom while another session's command runs
#   7  6b filling /tmp and /dev/shm ends with ENOSPC at 20 % and 10 % of RAM; the homes are on the disk
#   8  6c after all of it vmd answers at once and a new sandboxed command runs
#   9  11a session_destroy --delete-home removes links planted in the home and follows none of them
#  10  vmctl stop powers the VM off and leaves no state
source "$(dirname "$0")/lib.sh"
plan 10
vm_suite_ready escape-vmd.sh
need_wstool

rw=$tmp/rw
mkdir -p "$rw/sub"
chmod 0777 "$rw" "$rw/sub"	# the sandbox user (uid 1000) plants links there
echo "in the share" >"$rw/sub/file.txt"

# --- 1 ----------------------------------------------------------------------------------
vm_start_case "vmctl start --share DIR rw boots and prints its port" --share "$rw" rw
case_end "vmctl start --share DIR rw boots and prints its port"

# mounted_at PATH: 1 when the guest has a mount on PATH, else 0 (as root sees it).
mounted_at() { ex --raw -- awk -v p="$1" '$2 == p { n++ } END { print n + 0 }' /proc/mounts; }

# --- 2-5: links in a share (hole 4) -----------------------------------------------------
run ex -- sh -c 'ln -s /usr/local/bin /mnt/rw/tools && readlink /mnt/rw/tools'
expect_status 0
expect_out "/usr/local/bin"
run talk <<'EOF'
mount {"id":1,"tag":"rw","mount_point":"/mnt/rw/tools"}
mount {"id":2,"tag":"rw","mount_point":"/mnt/rw/tools/x"}
EOF
expect_status 0
expect_out 'error {"id":1,"code":-32602,"message":"mount: /mnt/rw/tools is a symbolic link; vmd follows no link in a mount point."}
error {"id":2,"code":-32602,"message":"mount: /mnt/rw/tools is a symbolic link; vmd follows no link in a mount point."}'
[[ $(mounted_at /usr/local/bin) == 0 ]] || why+=("/usr/local/bin was covered by a mount")
run ex --raw -- ls /usr/local/bin/x
expect_err "ls: /usr/local/bin/x: No such file or directory"
case_end "4a a mount on a link planted in the share (tools -> /usr/local/bin) is refused; /usr/local/bin is not covered"

run ex -- sh -c 'ln -s /tmp /mnt/rw/t && ln -s /sys/fs/cgroup /mnt/rw/cg && ln -s ../.. /mnt/rw/up && ls /mnt/rw/up/usr/local >/dev/null && echo laid'
expect_status 0
expect_out "laid"
run talk <<'EOF'
mount {"id":1,"tag":"rw","mount_point":"/mnt/rw/t/x"}
mount {"id":2,"tag":"rw","mount_point":"/mnt/rw/cg/x"}
mount {"id":3,"tag":"rw","mount_point":"/mnt/rw/up/usr/local/bin"}
EOF
expect_out 'error {"id":1,"code":-32602,"message":"mount: /mnt/rw/t is a symbolic link; vmd follows no link in a mount point."}
error {"id":2,"code":-32602,"message":"mount: /mnt/rw/cg is a symbolic link; vmd follows no link in a mount point."}
error {"id":3,"code":-32602,"message":"mount: /mnt/rw/up is a symbolic link; vmd follows no link in a mount point."}'
run ex --raw -- sh -c 'ls -d /tmp/x /sys/fs/cgroup/x 2>&1; awk '\''$2 ~ /^\/(tmp|sys\/fs\/cgroup|usr)\// { print $2 }'\'' /proc/mounts'
expect_out "ls: /tmp/x: No such file or directory
ls: /sys/fs/cgroup/x: No such file or directory"
case_end "4b a mount through a link to /tmp, to /sys/fs/cgroup or up a ../ chain is refused and creates nothing"

run ex --raw -- sh -c 'mkdir -p /run/victim && mount -t tmpfs victim /run/victim && echo mounted'
expect_out "mounted"
run ex -- sh -c 'ln -s /run /mnt/rw/r && ln -s /sys/fs /mnt/rw/s && ln -s /sys/fs/cgroup /mnt/rw/c && echo laid'
expect_out "laid"
run talk <<'EOF'
unmount {"id":1,"mount_point":"/mnt/rw/r/victim"}
unmount {"id":2,"mount_point":"/mnt/rw/s/cgroup"}
unmount {"id":3,"mount_point":"/mnt/rw/c"}
unmount {"id":4,"mount_point":"/mnt/rw/up/sys/fs/cgroup"}
EOF
expect_out 'error {"id":1,"code":-32602,"message":"unmount: /mnt/rw/r is a symbolic link; vmd follows no link in a mount point."}
error {"id":2,"code":-32602,"message":"unmount: /mnt/rw/s is a symbolic link; vmd follows no link in a mount point."}
error {"id":3,"code":-32602,"message":"unmount: /mnt/rw/c is a symbolic link; vmd follows no link in a mount point."}
error {"id":4,"code":-32602,"message":"unmount: /mnt/rw/up is a symbolic link; vmd follows no link in a mount point."}'
[[ $(mounted_at /run/victim) == 1 ]] || why+=("the tmpfs on /run/victim is gone")
[[ $(mounted_at /sys/fs/cgroup) == 1 ]] || why+=("the cgroup mount is gone")
run ex -- sh -c 's=x; while :; do s=$s$s; done'
expect_status 137
expect_err "sandbox-helper: the sandbox ran out of memory (its limit is $(ex --raw -- cat /sys/fs/cgroup/sandbox-helper/memory.max | awk '{ print int($1 / 4 * 3 / 1048576) }') MiB) and the kernel killed it."
ex --raw -- umount /run/victim >/dev/null 2>&1
case_end "4c an unmount through a link drops neither a tmpfs outside /mnt nor the cgroup mount that holds the limits"

run talk <<'EOF'
mount {"id":1,"tag":"rw","mount_point":"/mnt/rw/sub/inner/again","read_only":true}
spawn {"id":2,"command":"sh","args":["-c","cat /mnt/rw/sub/inner/again/sub/file.txt; awk '$2 == \"/mnt/rw/sub/inner/again\" { print $3, substr($4, 1, 2) }' /proc/mounts"]}
unmount {"id":3,"mount_point":"/mnt/rw/sub/inner/again"}
unmount {"id":4,"mount_point":"/mnt/rw/sub/inner/again"}
unmount {"id":5,"mount_point":"/mnt/rw/sub"}
EOF
expect_out 'ok {"id":1}
spawned {"id":2,"pid":0,"handle":"H"}
stdout "in the share\n9p ro\n"
exit {"id":2,"handle":"H","code":0}
ok {"id":3}
error {"id":4,"code":-32602,"message":"unmount: /mnt/rw/sub/inner/again is not a mount point."}
error {"id":5,"code":-32602,"message":"unmount: /mnt/rw/sub is not a mount point."}'
[[ -d $rw/sub/inner/again ]] || why+=("the mount point was not made in the host folder")
case_end "4d mount and unmount of a real folder inside the share still work"

# --- 6-8: memory and space (hole 6) -----------------------------------------------------
run talk <<'EOF'
&spawn {"id":1,"command":"sh","args":["-c","s=x; while :; do s=$s$s; done"]}
spawn {"id":2,"command":"sh","args":["-c","echo the other session runs"],"uid":1001}
wait 1
EOF
expect_status 0
limit=$(ex --raw -- cat /sys/fs/cgroup/sandbox-helper/memory.max | awk '{ print int($1 / 4 * 3 / 1048576) }')
# The two commands run at once: their lines may interleave, so they are compared sorted.
out=$(sort <<<"$out")
expect_out "$(sort <<EOF
spawned {"id":1,"pid":0,"handle":"H"}
spawned {"id":2,"pid":0,"handle":"H"}
stdout "the other session runs\n"
exit {"id":2,"handle":"H","code":0}
stderr "sandbox-helper: the sandbox ran out of memory (its limit is $limit MiB) and the kernel killed it.\n"
exit {"id":1,"handle":"H","code":137,"signal":9,"reason":"oom"}
EOF
)"
# vmd read the sandbox's cgroup and removed it: none is left
run ex --raw -- sh -c 'ls /sys/fs/cgroup/sandbox-helper | grep -c "^[0-9]"'
expect_out "0"
case_end "6a a shell doubling a string ends with 137, signal 9 and reason oom while another session's command runs"

# tmpfs rounds size=N% of RAM down to whole pages: of the RAM when it was mounted,
# which in a clone is its template's boot (a page more or less than MemTotal now).
pages=$(ex --raw -- awk '/^MemTotal:/ { print $2 / 4 }' /proc/meminfo)
pct() { echo $((pages * $1 / 100 * 4096)); }
fs_bytes() { ex --raw -- stat -f -c '%b %S' "$1" | awk '{ print $1 * $2 }'; }
fill() {
	local size
	size=$(fs_bytes "${1%/*}")
	((size >= $2 - 8192 && size <= $2 + 8192)) || why+=("${1%/*} holds $size bytes, not $2")
	run ex -- sh -c "dd if=/dev/zero of=$1 bs=64k count=100000 2>&1 | head -1; stat -c %s $1; rm $1"
	expect_status 0
	expect_out "dd: error writing '$1': No space left on device
$size"
}
fill /tmp/fill "$(pct 20)"
fill /dev/shm/fill "$(pct 10)"
# The homes are on the sandbox's own disk (template.sh fills one), not in RAM.
run ex --raw -- sh -c 'grep " /home " /proc/mounts | tail -n 1 | cut -d" " -f1,3'
expect_out "/dev/vda ext4"
# The issue's own command: head keeps reading after the write fails, so 100 MB, not 2 GB.
run ex -- sh -c 'head -c 100000000 /dev/zero >/tmp/fill; echo "head $?"; stat -c %s /tmp/fill'
expect_out "head 1
$(fs_bytes /tmp)"
case_end "6b filling /tmp and /dev/shm ends with ENOSPC at 20 % and 10 % of RAM; the homes are on the disk"

t0=$(date +%s%N)
run ex -- echo still answering
t1=$((($(date +%s%N) - t0) / 1000000))
expect_status 0
expect_out "still answering"
[[ $t1 -lt 5000 ]] || why+=("the exec took $t1 ms")
run talk <<'EOF'
ping {"id":9}
EOF
expect_out 'pong {"id":9}'
run ex --raw -- sh -c 'cat /proc/$(pidof vmd)/oom_score_adj; cat /proc/self/oom_score_adj'
expect_out "-1000
0"
case_end "6c after all of it vmd answers at once and a new sandboxed command runs"

# --- 9: links in a home (hole 11) -----------------------------------------------------
run $T 60 "$vmctl" session create "$P" 1005 eve
expect_status 0
ex --raw -- sh -c 'echo mine >/usr/local/bin/marker'
run ex --uid 1005 -- sh -c 'ln -s /usr/local/bin bin && ln -s /mnt/rw share && mkdir d && ln -s /mnt/rw/sub d/sub && ls bin/marker share/sub/file.txt d/sub/file.txt'
expect_status 0
expect_out "bin/marker
d/sub/file.txt
share/sub/file.txt"
run $T 60 "$vmctl" session destroy --delete-home "$P" 1005
expect_status 0
expect_err ""
run ex --raw -- sh -c 'ls /home; ls /usr/local/bin/marker /mnt/rw/sub/file.txt'
expect_out "sandbox
/mnt/rw/sub/file.txt
/usr/local/bin/marker"
[[ -f $rw/sub/file.txt ]] || why+=("the host's file in the share was removed")
case_end "11a session_destroy --delete-home removes links planted in the home and follows none of them"

# --- 10 -------------------------------------------------------------------------------
vm_stop_case
finish
