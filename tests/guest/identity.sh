#!/usr/bin/env bash
# identity.sh - the real guest (build/guest: vmd and sandbox-helper) made what its
# fw_cfg item opt/vmd/identity says: the secret, the clock, the hostname, the proxy,
# the shares and the home disk; a malformed identity; the template's placeholder.
#
# Plan
#   1  the guest boots to "vmd ready" on COM1 within $GUEST_BOOT_BOUND seconds (10)
#   2  vmd proves the identity's secret and serves who proves it
#   3  the hostname is the identity's
#   4  the clock is the identity's time (ten days ahead of the host's)
#   5  every command is told the identity's proxy
#   6  each 9p share is mounted at /mnt/TAG, read-only when its tag is in ro_shares
#   7  with home=disk, /home is the ext4 disk /dev/vda (nosuid, nodev)
#   8  a file written in a home lands in the disk image
#   9  a malformed identity powers the VM off with vmd's sentence on COM1
#  10  the template's placeholder: vmd says it waits, and does not listen
#  11  a clone of the template saved meanwhile takes its own identity: secret,
#      hostname and clock
#  12  two clones of one template draw different random numbers
#  13  a clone's home disk is its own, not the template's, whose blocks the template's
#      kernel had read
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 13
bound=${GUEST_BOOT_BOUND:-10}
image=$B/guest
[[ -f $image/initrd.img ]] || { echo "Bail out! no $image/initrd.img: run make guest first."; exit 1; }
need_wstool

new_secret
mkdir "$tmp/data" "$tmp/lib"
chmod 777 "$tmp/data"	# the sandbox user writes there
echo "from the host" >"$tmp/lib/hello.txt"
# mount_of DIR...: "DEVICE DIR TYPE rw|ro nosuid|suid nodev|dev" of the mount on top
# of each DIR, run in the guest from the read-only share.
cat >"$tmp/lib/mount_of" <<'EOF2'
for d; do
	awk -v d="$d" '$2 == d {
		split($4, o, ","); rw = "rw"; s = "suid"; n = "dev"
		for (i in o) {
			if (o[i] == "ro") rw = "ro"
			if (o[i] == "nosuid") s = "nosuid"
			if (o[i] == "nodev") n = "nodev"
		}
		top = $1 " " $2 " " $3 " " rw " " s " " n
	} END { print top }' /proc/mounts
done
EOF2
truncate -s 16M "$tmp/disk.img"
mkfs.ext4 -q -F "$tmp/disk.img"
ahead=$((${EPOCHREALTIME%[.,]*} + 10 * 86400))
new_identity hostname=sb-7 time=$ahead.250000000 proxy=10.0.2.100:3128 ro_shares=lib home=disk
boot main --image "$image" --share "$tmp/data:data" --share "$tmp/lib:lib" \
	-- -drive "file=$tmp/disk.img,format=raw,if=virtio"
if wait_line "vmd ready" "$bound"; then
	echo "# vmd ready after $(elapsed "$t0") s"
else
	not_seen "vmd ready" "$bound"
fi
case_end "the guest boots to \"vmd ready\" on COM1 within $bound seconds"

run timeout 30 "$wstool" prove "$port" "$(<"$tmp/secret")"
expect_status 0
expect_out "status 101
vmd proved the secret: yes
ping: pong
after: open"
case_end "vmd proves the identity's secret and serves who proves it"

run talk <<'EOF2'
spawn {"id":1,"command":"hostname","raw":true}
EOF2
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
stdout "sb-7\n"
exit {"id":1,"handle":"H","code":0}'
case_end "the hostname is the identity's"

run talk <<'EOF2'
spawn {"id":1,"command":"date","args":["+%s"],"raw":true}
EOF2
guest=$(sed -n 's/^stdout "\([0-9]*\)\\n"$/\1/p' <<<"$out")
host=${EPOCHREALTIME%[.,]*}
if [[ -z $guest ]]; then
	why+=("no time in: $out")
else
	echo "# the guest's clock is $((guest - ahead)) s past the identity's time, set $((ahead - host)) s ahead of the host's clock now"
	((guest >= ahead && guest - ahead <= 5)) || why+=("the guest says $guest, the identity $ahead.25")
fi
case_end "the clock is the identity's time (ten days ahead of the host's)"

run talk <<'EOF2'
spawn {"id":1,"command":"sh","args":["-c","echo $http_proxy $https_proxy ${HTTP_PROXY} ${HTTPS_PROXY} $no_proxy"]}
EOF2
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
stdout "http://10.0.2.100:3128 http://10.0.2.100:3128 http://10.0.2.100:3128 http://10.0.2.100:3128 localhost,127.0.0.1,::1\n"
exit {"id":1,"handle":"H","code":0}'
case_end "every command is told the identity's proxy"

run talk <<'EOF2'
spawn {"id":1,"command":"sh","args":["-c","sh /mnt/lib/mount_of /mnt/data /mnt/lib; cat /mnt/lib/hello.txt; echo x >/mnt/data/made.txt; echo x >/mnt/lib/x"]}
EOF2
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
stdout "data /mnt/data 9p rw nosuid nodev\nlib /mnt/lib 9p ro nosuid nodev\nfrom the host\n"
stderr "sh: can'"'"'t create /mnt/lib/x: Read-only file system\n"
exit {"id":1,"handle":"H","code":1}'
[[ -f $tmp/data/made.txt ]] || why+=("the write to /mnt/data did not reach the host")
[[ ! -e $tmp/lib/x ]] || why+=("the write to the read-only share reached the host")
case_end "each 9p share is mounted at /mnt/TAG, read-only when its tag is in ro_shares"

run talk <<'EOF2'
spawn {"id":1,"command":"sh","args":["-c","sh /mnt/lib/mount_of /home; ls -A /home"],"raw":true}
EOF2
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
stdout "/dev/vda /home ext4 rw nosuid nodev\nsandbox\n"
exit {"id":1,"handle":"H","code":0}'
case_end "with home=disk, /home is the ext4 disk /dev/vda (nosuid, nodev)"

run talk <<'EOF2'
spawn {"id":1,"command":"sh","args":["-c","echo written in the sandbox >${HOME}/kept.txt && sync"]}
EOF2
expect_out 'spawned {"id":1,"pid":0,"handle":"H"}
exit {"id":1,"handle":"H","code":0}'
qmp_command system_powerdown
wait_exit 5
[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus")
kept=$(debugfs -R "cat /home/sandbox/kept.txt" "$tmp/disk.img" 2>/dev/null)
[[ $kept == "written in the sandbox" ]] || why+=("the image's /home/sandbox/kept.txt holds: $kept")
case_end "a file written in a home lands in the disk image"

new_identity hostname=-bad
boot malformed --image "$image"
wait_exit "$bound"
[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus")
sentence="vmd: the identity's hostname must be 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'."
com1 | grep -qxF "$sentence" || why+=("no \"$sentence\" on COM1; it says:" "$(com1 | tail -n 5)")
com1 | grep -qxF "init: vmd exited with status 1; powering off" ||
	why+=("COM1: $(com1 | tail -n 3)")
case_end "a malformed identity powers the VM off with vmd's sentence on COM1"

# The template as the host makes it (docs: SANDBOX.md's "Fast start"): its RAM in a
# shared file, saved over QMP with x-ignore-shared while vmd waits; each clone maps the
# file privately and resumes it with its own identity on its own command line. A clone
# has the template's devices: the template has a disk of the same size as a clone's,
# and each clone gets its own file for it.
ram() { echo "memory-backend-file,id=ram0,size=128M,mem-path=$tmp/ram,share=$1"; }
disk() { echo "file=$tmp/$1.img,format=raw,if=virtio"; }
# new_disk NAME: an empty ext4 image of 16 MiB; sets disk_uuid to its UUID.
new_disk() {
	truncate -s 16M "$tmp/$1.img"
	mkfs.ext4 -q -F "$tmp/$1.img"
	disk_uuid=$(superblock_uuid <"$tmp/$1.img")
}
# superblock_uuid: the UUID in the ext4 superblock on stdin (at byte 1024 + 0x68).
superblock_uuid() { dd bs=1 skip=1128 count=16 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
ignore_shared='migrate-set-capabilities={"capabilities":[{"capability":"x-ignore-shared","state":true}]}'
item "$tmp/template" "vmd-identity template"$'\n'
new_disk template-disk
uuid_disk_t=$disk_uuid
boot template --image "$image" --identity "$tmp/template" \
	-- -object "$(ram on)" -machine memory-backend=ram0 -drive "$(disk template-disk)"
saved=no
if wait_line "vmd: waiting for its identity" "$bound"; then
	echo "# waiting after $(elapsed "$t0") s"
	sleep 2
	answer=$(printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 3 -T 3 - "TCP:127.0.0.1:$port" 2>&1)
	[[ -z $answer ]] || why+=("the port answered: $answer")
	! com1 | grep -q "^vmd ready" || why+=("vmd said it is ready")
	[[ $(com1 | grep -c "^vmd: waiting for its identity$") -eq 1 ]] ||
		why+=("vmd said it waits $(com1 | grep -c "^vmd: waiting") times")
	if tests/guest/qmp.py "$qmp" stop "$ignore_shared" \
		"migrate={\"uri\":\"exec:cat >$tmp/state\"}" migrated quit 2>"$tmp/qmp.err"; then
		saved=yes
	else
		why+=("the template was not saved: $(<"$tmp/qmp.err")")
	fi
	wait_exit 5
	[[ $qstatus -eq 0 ]] || why+=("the template's QEMU ended with status $qstatus")
else
	not_seen "vmd: waiting for its identity" "$bound"
fi
case_end "the template's placeholder: vmd says it waits, and does not listen"

# clone NAME [new_identity arguments]: a new secret, identity and disk (NAME-disk),
# and a clone of the template resumed with them; sets up (yes once vmd is ready) and
# uuid (a random UUID the clone's kernel made).
clone() {
	local name=$1 t
	shift
	new_disk "$name-disk"
	new_secret
	new_identity "$@"
	up=no uuid=''
	[[ $saved == yes ]] || { why+=("no template to clone"); return; }
	boot "$name" --image "$image" \
		-- -object "$(ram off)" -machine memory-backend=ram0 -drive "$(disk "$name-disk")" \
		-incoming defer
	t=$(now)
	until [[ -S $qmp ]] || ! kill -0 "$qpid" 2>/dev/null; do sleep 0.02; done
	if ! tests/guest/qmp.py "$qmp" "$ignore_shared" \
		"migrate-incoming={\"uri\":\"exec:cat $tmp/state\"}" migrated cont 2>"$tmp/qmp.err"; then
		why+=("$name did not resume: $(<"$tmp/qmp.err")" "$(tail -n 3 "$qout")")
		return
	fi
	if wait_line "vmd ready" "$bound"; then
		echo "# $name ready $(elapsed "$t") s after QEMU started"
		up=yes
		run talk <<<'spawn {"id":1,"command":"cat","args":["/proc/sys/kernel/random/uuid"],"raw":true}'
		uuid=$(sed -n 's/^stdout "\(.*\)\\n"$/\1/p' <<<"$out")
	else
		not_seen "vmd ready" "$bound"
	fi
}

ahead=$((${EPOCHREALTIME%[.,]*} + 20 * 86400))
clone clone-a hostname=clone-a time=$ahead.000000000 home=disk
uuid_disk_a=$disk_uuid
if [[ $up == yes ]]; then
	run timeout 30 "$wstool" prove "$port" "$(<"$tmp/secret")"
	[[ $out == *"vmd proved the secret: yes"*"ping: pong"* ]] || why+=("the secret: $out")
	run talk <<<'spawn {"id":1,"command":"sh","args":["-c","hostname; date +%s"],"raw":true}'
	guest=$(sed -n 's/^stdout "clone-a\\n\([0-9]*\)\\n"$/\1/p' <<<"$out")
	[[ -n $guest ]] || why+=("hostname and time: $out")
	[[ -z $guest ]] || ((guest >= ahead && guest - ahead <= 5)) ||
		why+=("the clone says $guest, its identity $ahead")
fi
uuid_a=$uuid
case_end "a clone of the template saved meanwhile takes its own identity: secret, hostname and clock"

if [[ $up == yes ]]; then
	run talk <<'EOF2'
spawn {"id":1,"command":"sh","args":["-c","dd if=/dev/vda bs=1 skip=1128 count=16 2>/dev/null | od -An -tx1 | tr -d ' \\n'"],"raw":true}
spawn {"id":2,"command":"sh","args":["-c","echo in the clone >${HOME}/clone.txt && sync"]}
EOF2
	expect_out "spawned {\"id\":1,\"pid\":0,\"handle\":\"H\"}
stdout \"$uuid_disk_a\"
exit {\"id\":1,\"handle\":\"H\",\"code\":0}
spawned {\"id\":2,\"pid\":0,\"handle\":\"H\"}
exit {\"id\":2,\"handle\":\"H\",\"code\":0}"
fi

qmp_command system_powerdown
wait_exit 5
[[ $(superblock_uuid <"$tmp/clone-a-disk.img") == "$uuid_disk_a" ]] ||
	why+=("clone-a's disk now has the UUID $(superblock_uuid <"$tmp/clone-a-disk.img")")
kept=$(debugfs -R "cat /home/sandbox/clone.txt" "$tmp/clone-a-disk.img" 2>/dev/null)
[[ $kept == "in the clone" ]] || why+=("clone-a's disk has in /home/sandbox/clone.txt: $kept")
[[ $(superblock_uuid <"$tmp/template-disk.img") == "$uuid_disk_t" ]] ||
	why+=("the template's disk was written to")
clone_disk_why=("${why[@]}")
why=()

clone clone-b hostname=clone-b
[[ $uuid_a =~ ^[0-9a-f-]{36}$ && $uuid =~ ^[0-9a-f-]{36}$ ]] ||
	why+=("no UUID from the clones: \"$uuid_a\", \"$uuid\"")
[[ $uuid_a != "$uuid" ]] || why+=("both clones made the UUID $uuid")
echo "# the clones' first UUIDs: $uuid_a, $uuid"
qmp_command quit
wait_exit 5
case_end "two clones of one template draw different random numbers"

why=("${clone_disk_why[@]}")
case_end "a clone's home disk is its own, not the template's, whose blocks the template's kernel had read"

finish
