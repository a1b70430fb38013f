#!/usr/bin/env bash
# bench.sh - what the guest image costs: boot-to-ready time (median of $GUEST_BOOTS
# boots, 5), resident memory of the idle QEMU, and the size of the image, checked
# against the sandbox's goals (start to ready <= 3 s under TCG, <= 160 MiB resident).
#
# It measures $GUEST_IMAGE (default $BUILD/guest: the real image with vmd) when that
# has been built, else the test image, booted the way vmctl boots it: 128 MiB,
# --tb-size $GUEST_TB_SIZE (32, vmctl's TB_SIZE_MIB), no VGA, the balloon with free
# page reporting, the command line from the image's cmdline file.
# The time runs from starting host/qemu-boot to the "vmd ready" line on COM1; the
# memory is VmRSS after $GUEST_IDLE seconds (2) of idling after that line.
#
# Plan
#   1  the median boot-to-ready time is at most $GUEST_READY_MAX seconds (3)
#   2  the idle QEMU's resident memory is at most $GUEST_RSS_MAX MiB (160)
#   3  system_powerdown ends every VM with status 0
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 3
boots=${GUEST_BOOTS:-5} tb=${GUEST_TB_SIZE:-32} idle=${GUEST_IDLE:-2}
ready_max=${GUEST_READY_MAX:-3} rss_max=${GUEST_RSS_MAX:-160}

G=${GUEST_IMAGE:-$B/guest}
if [[ ! -f $G/initrd.img ]]; then
	G=$B/guest-test
	build_test_image
fi
new_secret
echo "# image $G: initrd.img $(stat -c %s "$G/initrd.img") bytes, vmlinuz $(stat -c %s "$G/vmlinuz") bytes"
echo "# command line: $(<"$G/cmdline")"

times=() rss=() bad=()
opts=(--tb-size "$tb" --vga none --balloon)
for ((i = 1; i <= boots; i++)); do
	boot "bench$i" "${opts[@]}"
	if ! wait_line "vmd ready" 30; then
		bad+=("boot $i: no \"vmd ready\": $(com1 | tail -n 3)")
		kill "$qpid"
		continue
	fi
	times+=("$(elapsed "$t0")")
	sleep "$idle"
	rss+=("$(rss_mib "$qpid")")
	[[ $i -gt 1 ]] || awk '/^Rss(Anon|File|Shmem):/ { printf "# %s %.1f MiB\n", $1, $2 / 1024 }' \
		"/proc/$qpid/status"
	qmp_command system_powerdown
	wait_exit 5
	[[ $qstatus -eq 0 ]] || bad+=("boot $i: QEMU ended with status $qstatus")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ready=$(median "${times[@]}") mem=$(median "${rss[@]}")
echo "# boot-to-ready: ${times[*]} s (median $ready s)"
echo "# idle RSS: ${rss[*]} MiB (median $mem MiB)"

[[ ${#times[@]} -gt 0 ]] && awk -v a="$ready" -v b="$ready_max" 'BEGIN { exit !(a <= b) }' ||
	why+=("median $ready s, goal $ready_max s")
case_end "the median boot-to-ready time is at most $ready_max seconds"

[[ ${#rss[@]} -gt 0 ]] && awk -v a="$mem" -v b="$rss_max" 'BEGIN { exit !(a <= b) }' ||
	why+=("median $mem MiB, goal $rss_max MiB")
case_end "the idle QEMU's resident memory is at most $rss_max MiB"

why=("${bad[@]}")
case_end "system_powerdown ends every VM with status 0"

finish
