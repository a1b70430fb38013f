#!/usr/bin/env bash
# boot.sh - the guest image under QEMU (TCG unless KVM works): boot, network, secret,
# modules, and every way the VM ends.
#
# Plan
#   1  the image boots to "vmd ready" on COM1 within $GUEST_BOOT_BOUND seconds (10)
#   2  init starts vmd with --secret-file /run/vmd/secret --port 8080 --sandbox /bin/sandbox-helper --own-uids
#   3  the forwarded port answers on 127.0.0.1 and the host listens on no other address
#   4  the forwarded port is not reachable on the host's other addresses
#   5  the secret arrives intact in a 0600 root file that uid 65534 cannot read
#   6  the fw_cfg copy of the secret is not readable by uid 65534 either
#   7  every module in the load order is loaded
#   8  eth0 is 10.0.2.15/24 with the default route via 10.0.2.2 and no DNS server
#   9  proc, sysfs, cgroup2, devpts, /dev/shm, /tmp and /run are mounted, and the
#      shared folder at /mnt/data
#  10  a dynamically linked program runs with the libraries build-image copied
#  11  system_powerdown makes QEMU exit with status 0 within 3 s
#  12  vmd exiting powers the VM off: QEMU exits with status 0
#  13  an init that dies makes the kernel panic and QEMU exit (panic=-1, -no-reboot)
#  14  an image built --without-vmd says so and still powers off on system_powerdown
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 14
bound=${GUEST_BOOT_BOUND:-10}

build_test_image
new_secret

# A shared folder, so that init loads the 9p modules too (it skips them without one).
mkdir "$tmp/share"
boot main --share "$tmp/share:data"
if wait_line "vmd ready" "$bound"; then
	echo "# vmd ready after $(elapsed "$t0") s"
else
	not_seen "vmd ready" "$bound"
fi
case_end "the image boots to \"vmd ready\" on COM1 within $bound seconds"

ask
[[ $(field args) == "--secret-file /run/vmd/secret --port 8080 --sandbox /bin/sandbox-helper --own-uids" ]] ||
	why+=("vmd got: $(field args)" "answer: $answer")
case_end "init starts vmd with --secret-file /run/vmd/secret --port 8080 --sandbox /bin/sandbox-helper --own-uids"

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

[[ $(field secret-sha256) == $(sha256sum <"$tmp/secret" | cut -d' ' -f1) ]] ||
	why+=("the guest's secret has another hash: $(field secret-sha256)")
[[ $(field secret-mode) == "600 0" ]] || why+=("mode and owner: $(field secret-mode)")
[[ $(field secret-readable-by-nobody) == no ]] || why+=("uid 65534 can read /run/vmd/secret")
case_end "the secret arrives intact in a 0600 root file that uid 65534 cannot read"

[[ $(field fw-cfg-readable-by-nobody) == no ]] || why+=("uid 65534 can read the fw_cfg item")
case_end "the fw_cfg copy of the secret is not readable by uid 65534 either"

loaded=" $(field modules) "
for m in $(<"$CACHE/kernel/modules.order"); do
	[[ $loaded == *" $m "* ]] || why+=("$m is not loaded")
done
case_end "every module in the load order is loaded"

[[ $(field eth0) == 10.0.2.15/24 ]] || why+=("eth0: $(field eth0)")
[[ $(field route) == "default via 10.0.2.2 dev eth0 " ]] || why+=("route: $(field route)")
[[ $(field resolv) == "# none: the network is closed; a proxy (vmctl start --internet) resolves names" ]] ||
	why+=("resolv.conf: $(field resolv)")
case_end "eth0 is 10.0.2.15/24 with the default route via 10.0.2.2 and no DNS server"

mounts=" $(field mounts) "
for m in /proc:proc /sys:sysfs /sys/fs/cgroup:cgroup2 /dev:devtmpfs /dev/pts:devpts \
         /dev/shm:tmpfs /tmp:tmpfs /run:tmpfs /mnt/data:9p; do
	[[ $mounts == *" $m "* ]] || why+=("$m is not mounted")
done
case_end "proc, sysfs, cgroup2, devpts, /dev/shm, /tmp and /run are mounted, and the shared folder at /mnt/data"

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
if wait_line "vmd ready" "$bound"; then
	ask exit
	wait_exit 5
	[[ $qstatus -eq 0 ]] || why+=("QEMU ended with status $qstatus")
	com1 | grep -qx "init: vmd exited with status 143; powering off" ||
		why+=("COM1: $(com1 | tail -n 3)")
else
	not_seen "vmd ready" "$bound"
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
