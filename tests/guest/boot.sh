#!/usr/bin/env bash
# boot.sh - the guest image under QEMU (TCG unless KVM works): boot, network, identity,
# modules, and every way the VM ends. The image has the stand-in tests/guest/fake-vmd,
# which applies nothing of the identity: identity.sh boots the real vmd for that.
#
# Plan
#   1  the image boots to "vmd ready" on COM1 within $GUEST_BOOT_BOUND seconds (10)
#   2  init starts vmd with --identity /sys/firmware/qemu_fw_cfg/by_name/opt/vmd/identity/raw --port 8080 --sandbox /bin/sandbox-helper --own-uids
#   3  the forwarded port answers on 127.0.0.1 and the host listens on no other address
#   4  the forwarded port is not reachable on the host's other addresses
#   5  the identity arrives intact as the fw_cfg item opt/vmd/identity
#   6  the fw_cfg item of the identity is not readable by uid 65534
#   7  with a 9p share and a virtio disk, every module in the load order is loaded
#   8  eth0 is 10.0.2.15/24 with the default route via 10.0.2.2 and no DNS server
#   9  proc, sysfs, cgroup2, devpts, /dev/shm, /tmp, /home and /run are mounted, and
#      init mounts no share (vmd does, from the identity)
#  10  a dynamically linked program runs with the libraries build-image copied
#  11  system_powerdown makes QEMU exit with status 0 within 3 s
#  12  without a 9p share or a disk, neither the 9p stack nor the disk's modules load
#  13  vmd exiting powers the VM off: QEMU exits with status 0
#  14  an init that dies makes the kernel panic and QEMU exit (panic=-1, -no-reboot)
#  15  an image built --without-vmd says so and still powers off on system_powerdown
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 15
bound=${GUEST_BOOT_BOUND:-10}

build_test_image
new_secret
new_identity

# A shared folder and a disk, so that init loads the 9p and the disk's modules too (it
# skips them without a device for them).
mkdir "$tmp/share"
truncate -s 8M "$tmp/disk.img"
boot main --share "$tmp/share:data" -- -drive "file=$tmp/disk.img,format=raw,if=virtio"
if wait_line "vmd ready" "$bound"; then
	echo "# vmd ready after $(elapsed "$t0") s"
else
	not_seen "vmd ready" "$bound"
fi
case_end "the image boots to \"vmd ready\" on COM1 within $bound seconds"

ask
[[ $(field args) == "--identity /sys/firmware/qemu_fw_cfg/by_name/opt/vmd/identity/raw --port 8080 --sandbox /bin/sandbox-helper --own-uids" ]] ||
	why+=("vmd got: $(field args)" "answer: $answer")
case_end "init starts vmd with --identity /sys/firmware/qemu_fw_cfg/by_name/opt/vmd/identity/raw --port 8080 --sandbox /bin/sandbox-helper --own-uids"

listeners=$(ss -Htln "sport = :$port" | awk '{ print $4 }')
[[ -n $(field uid) ]] || why+=("no answer on 127.0.0.1:$port")
[[ $listeners == "127.0.0.1:$port" ]] || why+=("listening on: $listeners")
case_end "the forwarded port answers on 127.0.0.1 and the host listens on no other address"

others=(127.0.0.2 $(ip -o -4 addr show | awk '{ split($4, a, "/") } a[1] !~ /^127\./ { print a[1] }'))
for a in "${others[@]}"; do
	if socat -T 2 /dev/null "TCP:$a:$port,connect-timeout=2" 2>/dev/null; then
		why+=("$a:$port accepted a connection")
	fi
done
echo "# tried ${others[*]}"
case_end "the forwarded port is not reachable on the host's other addresses"

[[ $(field identity-sha256) == $(sha256sum <"$tmp/identity" | cut -d' ' -f1) ]] ||
	why+=("the guest's identity has another hash: $(field identity-sha256)")
case_end "the identity arrives intact as the fw_cfg item opt/vmd/identity"

[[ $(field identity-readable-by-nobody) == no ]] || why+=("uid 65534 can read the fw_cfg item")
case_end "the fw_cfg item of the identity is not readable by uid 65534"

loaded=" $(field modules) "
for m in $(<"$CACHE/kernel/modules.order"); do
	[[ $loaded == *" $m "* ]] || why+=("$m is not loaded")
done
case_end "with a 9p share and a virtio disk, every module in the load order is loaded"

[[ $(field eth0) == 10.0.2.15/24 ]] || why+=("eth0: $(field eth0)")
[[ $(field route) == "default via 10.0.2.2 dev eth0 " ]] || why+=("route: $(field route)")
[[ $(field resolv) == "# none: the network is closed; a proxy (vmctl start --internet) resolves names" ]] ||
	why+=("resolv.conf: $(field resolv)")
case_end "eth0 is 10.0.2.15/24 with the default route via 10.0.2.2 and no DNS server"

mounts=" $(field mounts) "
for m in /proc:proc /sys:sysfs /sys/fs/cgroup:cgroup2 /dev:devtmpfs /dev/pts:devpts \
         /dev/shm:tmpfs /tmp:tmpfs /home:tmpfs /run:tmpfs; do
	[[ $mounts == *" $m "* ]] || why+=("$m is not mounted")
done
[[ $mounts != *" /mnt/"* ]] || why+=("something is mounted under /mnt: $mounts")
case_end "proc, sysfs, cgroup2, devpts, /dev/shm, /tmp, /home and /run are mounted, and init mounts no share (vmd does, from the identity)"

[[ $(field helper) == helper-ok ]] || why+=("the dynamically linked helper said: $(field helper)")
case_end "a dynamically linked program runs with the libraries build-image copied"

t=$(now)
qmp_command system_powerdown
wait_exit 3
[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus after $(elapsed "$t") s")
com1 | grep -qx "init: power button pressed; powering off" || why+=("COM1: $(com1 | tail -n 3)")
echo "# QEMU exited $(elapsed "$t") s after system_powerdown"
case_end "system_powerdown makes QEMU exit with status 0 within 3 s"

boot vmd-exits
up=no
if wait_line "vmd ready" "$bound"; then
	up=yes
	ask
	loaded=" $(field modules) "
	for m in 9p 9pnet 9pnet_virtio netfs fscache virtio_blk ext4 jbd2 mbcache crc16 \
	         crc32c_generic; do
		[[ $loaded != *" $m "* ]] || why+=("$m is loaded")
	done
	[[ $loaded == *" virtio_net "* ]] || why+=("the report lists no virtio_net: $loaded")
else
	not_seen "vmd ready" "$bound"
fi
case_end "without a 9p share or a disk, neither the 9p stack nor the disk's modules load"

if [[ $up == yes ]]; then
	ask exit
	wait_exit 5
	[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus")
	com1 | grep -qx "init: vmd exited with status 143; powering off" ||
		why+=("COM1: $(com1 | tail -n 3)")
else
	why+=("vmd was not ready (the case before says why)")
fi
case_end "vmd exiting powers the VM off: QEMU exits with status 0"

boot init-dies --kernel-append rdinit=/bin/false
wait_exit "$bound"
[[ $qstatus -ne 143 ]] || why+=("QEMU was still running after $bound s")
com1 | grep -q "Kernel panic - not syncing: Attempted to kill init" || why+=("COM1: $(com1 | tail -n 3)")
echo "# QEMU exited $(elapsed "$t0") s after it started"
case_end "an init that dies makes the kernel panic and QEMU exit (panic=-1, -no-reboot)"

build_test_image --without-vmd --without-sandbox-helper
boot no-vmd
if wait_line "init: this image has no /bin/vmd; waiting for the power button" "$bound"; then
	qmp_command system_powerdown
	wait_exit 3
	[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus")
else
	not_seen "init: this image has no /bin/vmd; waiting for the power button" "$bound"
fi
case_end "an image built --without-vmd says so and still powers off on system_powerdown"

finish
