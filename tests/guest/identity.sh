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
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 10
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
stdout "/dev/vda /home ext4 rw nosuid nodev\nlost+found\nsandbox\n"
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
kept=$(debugfs -R "cat /sandbox/kept.txt" "$tmp/disk.img" 2>/dev/null)
[[ $kept == "written in the sandbox" ]] || why+=("the image's /sandbox/kept.txt holds: $kept")
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

item "$tmp/template" "vmd-identity template"$'\n'
boot template --image "$image" --identity "$tmp/template"
if wait_line "vmd: waiting for its identity" "$bound"; then
	echo "# waiting after $(elapsed "$t0") s"
	sleep 2
	answer=$(printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 3 -T 3 - "TCP:127.0.0.1:$port" 2>&1)
	[[ -z $answer ]] || why+=("the port answered: $answer")
	! com1 | grep -q "^vmd ready" || why+=("vmd said it is ready")
	[[ $(com1 | grep -c "^vmd: waiting for its identity$") -eq 1 ]] ||
		why+=("vmd said it waits $(com1 | grep -c "^vmd: waiting") times")
	qmp_command system_powerdown
	wait_exit 5
	[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus after system_powerdown")
else
	not_seen "vmd: waiting for its identity" "$bound"
fi
case_end "the template's placeholder: vmd says it waits, and does not listen"

finish
