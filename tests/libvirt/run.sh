#!/usr/bin/env bash
# tests/libvirt/run.sh - the README's libvirt commands, run through Debian's libvirt 9.0
# and virt-install 4.1 on every container and on the pc and q35 machines.
#
# Each case copies the container to a folder of its own under /var/lib/libvirt/images,
# runs the README's virt-install command with only these substitutions (the README says
# so too): the domain name, that folder, the container's file name and driver.type
# (device=cdrom for the ISO), bus=sata on q35, and --virt-type qemu (--machine q35) at
# the end. Then the serial log must be exactly "ClientAPI" CR LF "$ "; the README's
# `virsh console` (on a terminal from Expect) must answer a line reversed, and the log
# must hold exactly that too; `virsh shutdown` must reach "shut off" within 10 s; and
# `virsh undefine` removes the domain.
#
# QEMU runs as libvirt-qemu, as Debian sets it up, so the copies sit in a folder it can
# reach (the build folder may be under a 0700 one), and libvirt chowns them while in use.
#
# The daemons: a libvirtd that already answers on qemu:///system (the package's, say) is
# used as it is and left running. Otherwise the suite starts virtlogd and libvirtd itself
# and stops them at the end. Its libvirtd runs in a mount namespace of its own, where two
# files differ from the host's (which is never edited):
#   - /dev/kvm is an empty root-only file. Where /dev/kvm is root's alone (this machine:
#     no udev gives it to group kvm), libvirt's capability probe, run with
#     CAP_DAC_OVERRIDE, finds KVM working, while its check that the cached capabilities
#     are still valid, made as libvirt-qemu, finds KVM unusable; so every lookup probes
#     QEMU again, about 2 minutes per virt-install here. The cases use TCG anyway. (A
#     libvirtd that was already running has that problem here, so each virt-install is
#     allowed 300 s.)
#   - /etc/libvirt/qemu.conf is the host's (Debian's sets nothing) plus `namespaces = [ ]`:
#     libvirt cannot move a file mounted on /dev/kvm into a domain's private /dev.
# Their logs, pid files and configuration live in /run/clientapi-libvirt-test.
#
# Nothing is left: the domains, the storage pools virt-install makes for each folder
# (all named clientapi-test-*), the copies, the domains' logs and the daemons it started
# go at the end, even when a case fails or the run is interrupted (INT, TERM, HUP), and
# whatever an earlier run left (one that was killed, say) is removed first.
set -uo pipefail

cd "$(dirname "$0")/../.."
# TAP's cases from tap.sh (its own EXIT trap is replaced below: cleanup removes $tmp too).
source tests/tap.sh
B=${BUILD:-build}
prefix=clientapi-test-
state=/run/clientapi-libvirt-test
images=/var/lib/libvirt/images
qemu_logs=/var/log/libvirt/qemu
export LIBVIRT_DEFAULT_URI=qemu:///system
machines=(pc q35)
containers=(img iso qcow2 vmdk vhd vdi)
declare -A driver=([img]=driver.type=raw [iso]=device=cdrom,driver.type=raw
                   [qcow2]=driver.type=qcow2 [vmdk]=driver.type=vmdk [vhd]=driver.type=vpc
                   [vdi]=driver.type=vdi)
suite_t0=$(date +%s%N)

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
vsh() { timeout 30 virsh -q "$@"; }

# --- the daemons ------------------------------------------------------------------

# alive PID NAME: PID is a running (not zombie) process called NAME.
alive() {
	local st
	[[ $1 =~ ^[0-9]+$ && $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ ${st%% *} != Z ]]
}

# stop PIDFILE NAME: end the daemon that PIDFILE names, if it is still NAME; wait for it.
stop() {
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	if alive "$pid" "$2"; then
		kill -TERM "$pid"
		for ((i = 0; i < 100; i++)); do alive "$pid" "$2" || break; sleep 0.1; done
		alive "$pid" "$2" && kill -KILL "$pid"
	fi
	rm -f "$1"
}

libvirtd_answers() { timeout 10 virsh -q version >/dev/null 2>&1; }
virtlogd_answers() { socat -u OPEN:/dev/null UNIX-CONNECT:/run/libvirt/virtlogd-sock 2>/dev/null; }

# Start what does not answer yet. Prints a sentence and returns 1 when it cannot.
start_daemons() {
	local i
	mkdir -p "$state"
	if ! virtlogd_answers; then
		echo "log_outputs=\"3:file:$state/virtlogd.log\"" >"$state/virtlogd.conf"
		virtlogd -d -f "$state/virtlogd.conf" -p "$state/virtlogd.pid" </dev/null >/dev/null 2>&1 ||
			{ echo "virtlogd -d failed: $(tail -n 3 "$state/virtlogd.log" 2>/dev/null)"; return 1; }
		for ((i = 0; i < 100; i++)); do virtlogd_answers && break; sleep 0.1; done
		virtlogd_answers || { echo "virtlogd did not open its socket within 10 s"; return 1; }
	fi
	if libvirtd_answers; then
		echo "# using the libvirtd that was already running on $LIBVIRT_DEFAULT_URI, with the host's configuration"
		return 0
	fi
	[[ -f /etc/libvirt/qemu.conf ]] || { echo "no /etc/libvirt/qemu.conf: is libvirt-daemon-system installed?"; return 1; }
	echo "log_outputs=\"3:file:$state/libvirtd.log\"" >"$state/libvirtd.conf"
	local binds=""
	if [[ -e /dev/kvm ]]; then
		: >"$state/no-kvm"
		chmod 0600 "$state/no-kvm"
		{ grep -v '^[[:space:]]*namespaces[[:space:]]*=' /etc/libvirt/qemu.conf; echo 'namespaces = [ ]'; } >"$state/qemu.conf"
		binds="mount --bind $state/no-kvm /dev/kvm && mount --bind $state/qemu.conf /etc/libvirt/qemu.conf &&"
	fi
	unshare --mount --propagation private sh -c \
		"$binds exec libvirtd -d -f $state/libvirtd.conf -p $state/libvirtd.pid" </dev/null >/dev/null 2>&1 ||
		{ echo "libvirtd -d failed: $(tail -n 3 "$state/libvirtd.log" 2>/dev/null)"; return 1; }
	for ((i = 0; i < 60; i++)); do libvirtd_answers && break; sleep 0.5; done
	libvirtd_answers || { echo "libvirtd did not answer within 30 s: $(tail -n 5 "$state/libvirtd.log" 2>/dev/null)"; return 1; }
}

stop_daemons() {
	stop "$state/libvirtd.pid" libvirtd
	stop "$state/virtlogd.pid" virtlogd
	rm -rf "$state"
}

# Every domain and pool named clientapi-test-*, the copies and the domains' logs.
remove_ours() {
	local d p
	if libvirtd_answers; then
		for d in $(vsh list --all --name | grep "^$prefix"); do
			vsh destroy "$d" >/dev/null 2>&1
			vsh undefine "$d" >/dev/null 2>&1
		done
		for p in $(vsh pool-list --all --name | grep "^$prefix"); do
			vsh pool-destroy "$p" >/dev/null 2>&1
			vsh pool-undefine "$p" >/dev/null 2>&1
		done
	fi
	rm -rf "$images/$prefix"* "$qemu_logs/$prefix"*
}

cleanup() {
	remove_ours
	stop_daemons
	rm -rf "$tmp"
}

# --- the README's commands -----------------------------------------------------------

# The virt-install command of the README's libvirt block, continuation lines joined.
readme_cmd=$(awk '/^virt-install / { on = 1 } on { line = line $0; if (!sub(/\\$/, "", line)) { print line; exit } }' README.md |
	tr -s ' ')
readme_why=()
[[ -n $readme_cmd ]] || readme_why+=("README.md has no line beginning with virt-install")
[[ $readme_cmd =~ [\$\`\"\'\*\?\;\&\|\<\>] ]] &&
	readme_why+=("the README's virt-install command has shell syntax this suite does not run: $readme_cmd")
for want in "--name clientapi " "path=/var/lib/libvirt/images/boot.img," "driver.type=raw" "bus=ide" \
	"log.file=/var/log/libvirt/qemu/clientapi-serial.log"; do
	[[ $readme_cmd == *"$want"* ]] || readme_why+=("the README's virt-install command has no \"$want\": $readme_cmd")
done
for want in "virsh console clientapi" "virsh shutdown clientapi" "virsh undefine clientapi"; do
	grep -q "^$want\( \|$\)" README.md || readme_why+=("README.md has no line beginning with \"$want\"")
done

# cmd_for NAME DIR CONTAINER MACHINE: the README's command for one case, one word a line.
cmd_for() {
	local c=$readme_cmd bus=ide
	[[ $4 == q35 ]] && bus=sata
	c=${c//clientapi/$1}
	c=${c//\/var\/lib\/libvirt\/images\//$2/}
	c=${c//boot.img/boot.$3}
	c=${c//driver.type=raw/${driver[$3]}}
	c=${c//bus=ide/bus=$bus}
	c+=" --virt-type qemu"
	[[ $4 == q35 ]] && c+=" --machine q35"
	printf '%s\n' $c
}

# Show a file's bytes: printable ASCII as is, the rest escaped.
shown() { printf '%q' "$(cat "$1" 2>/dev/null)"; }

# --- the run -------------------------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM HUP
planned=$((${#machines[@]} * ${#containers[@]} + 1))
echo "1..$planned"

# Whatever an interrupted earlier run left: its daemons first, then (through whichever
# libvirtd runs now) its domains, pools and files.
missing=()
for c in virsh virt-install libvirtd virtlogd unshare socat expect; do command -v "$c" >/dev/null || missing+=("$c"); done
if [[ $(id -u) -ne 0 ]]; then
	daemon_why="the libvirt suite runs as root (qemu:///system)"
elif [[ ${#missing[@]} -gt 0 ]]; then
	daemon_why="not installed: ${missing[*]} (ci/install-deps installs them)"
else
	stop_daemons
	daemon_why=$(start_daemons)
fi
if [[ $daemon_why == "# "* ]]; then
	echo "$daemon_why"
	daemon_why=""
fi
remove_ours

for machine in "${machines[@]}"; do
	for ext in "${containers[@]}"; do
		name=$prefix$machine-$ext
		title="libvirt $machine boot.$ext: the README's virt-install boots it, the banner on the serial log, virsh console reverses a line, virsh shutdown reaches shut off"
		if [[ -n $daemon_why ]]; then why=("$daemon_why"); case_end "$title"; continue; fi
		if [[ ${#readme_why[@]} -gt 0 ]]; then why=("${readme_why[@]}"); case_end "$title"; continue; fi

		dir=$(mktemp -d "$images/$name.XXXXXX")
		chmod 0711 "$dir"	# libvirt-qemu must reach the copies; libvirt chowns the image
		cp "$B/boot.$ext" "$dir/"
		if [[ $ext == vmdk ]]; then
			# libvirt hands the descriptor to libvirt-qemu, not the extent it names.
			cp "$B/boot-flat.vmdk" "$dir/"
			chown libvirt-qemu: "$dir/boot-flat.vmdk"
		fi
		mapfile -t cmd < <(cmd_for "$name" "$dir" "$ext" "$machine")
		serial=$qemu_logs/$name-serial.log
		banner=$'ClientAPI\r\n$ '

		t0=$(date +%s%N)
		if ! timeout 300 "${cmd[@]}" >"$dir/virt-install.out" 2>&1; then
			why+=("virt-install failed: ${cmd[*]}")
			why+=("$(tail -n 5 "$dir/virt-install.out")")
		else
			installed_ms=$(ms_since "$t0")
			for ((i = 0; i < 600; i++)); do
				[[ $(cat "$serial" 2>/dev/null) == "$banner" ]] && break
				sleep 0.05
			done
			boot_ms=$(ms_since "$t0")
			[[ $(cat "$serial" 2>/dev/null) == "$banner" ]] ||
				why+=("the serial log is not exactly \"ClientAPI\" CR LF \"\$ \" 30 s after virt-install began: $(shown "$serial")")
		fi
		if [[ ${#why[@]} -eq 0 ]]; then
			if ! out=$(expect tests/libvirt/console.exp "$name" hello 2>&1); then
				why+=("virsh console $name, typing hello CR:")
				why+=("$out")
			fi
			want="${banner}hello"$'\r\n'"olleh"$'\r\n$ '
			[[ $(cat "$serial") == "$want" ]] ||
				why+=("the serial log after the line is $(shown "$serial"), expected $(printf '%q' "$want")")
		fi
		if [[ ${#why[@]} -eq 0 ]]; then
			t1=$(date +%s%N)
			vsh shutdown "$name" >/dev/null || why+=("virsh shutdown $name failed")
			for ((i = 0; i < 400; i++)); do
				state_now=$(vsh domstate "$name" 2>&1)
				[[ $state_now == "shut off" ]] && break
				sleep 0.025
			done
			off_ms=$(ms_since "$t1")
			[[ $state_now == "shut off" ]] ||
				why+=("virsh domstate still says \"$state_now\" 10 s after virsh shutdown")
		fi
		if [[ ${#why[@]} -eq 0 ]]; then
			vsh undefine "$name" >/dev/null || why+=("virsh undefine $name failed")
		fi
		if [[ ${#why[@]} -gt 0 ]]; then
			why+=("the domain's log, $qemu_logs/$name.log, ends:")
			why+=("$(tail -n 8 "$qemu_logs/$name.log" 2>/dev/null)")
			if [[ -s $state/libvirtd.log ]]; then
				why+=("libvirtd's log ends:")
				why+=("$(tail -n 4 "$state/libvirtd.log")")
			fi
			vsh destroy "$name" >/dev/null 2>&1
			vsh undefine "$name" >/dev/null 2>&1
		fi
		# The storage pool virt-install made for the folder, the copies, the logs.
		vsh pool-destroy "${dir##*/}" >/dev/null 2>&1
		vsh pool-undefine "${dir##*/}" >/dev/null 2>&1
		rm -rf "$dir" "$qemu_logs/$name.log" "$serial"
		case_end "$title"
		[[ $n -eq 1 ]] && echo "# ran: ${cmd[*]}"
		[[ -n ${off_ms-} ]] &&
			echo "# virt-install returned after $installed_ms ms, the banner was in the log after $boot_ms ms; shut off $off_ms ms after virsh shutdown"
		unset installed_ms boot_ms off_ms
	done
done

# The end: everything named clientapi-test-* is gone, and so are the daemons it started.
ours_before=$(ls "$state"/*.pid 2>/dev/null | wc -l)
remove_ours
left=()
if libvirtd_answers; then
	left+=($(vsh list --all --name | grep "^$prefix") $(vsh pool-list --all --name | grep "^$prefix"))
fi
pids=$(cat "$state"/*.pid 2>/dev/null)
stop_daemons
left+=($(ls -d "$images/$prefix"* "$qemu_logs/$prefix"* /etc/libvirt/qemu/"$prefix"* /etc/libvirt/storage/"$prefix"* 2>/dev/null))
for pid in $pids; do alive "$pid" libvirtd || alive "$pid" virtlogd && left+=("daemon $pid"); done
[[ -e $state ]] && left+=("$state")
[[ ${#left[@]} -eq 0 ]] || why+=("left behind: ${left[*]}")
case_end "libvirt: nothing is left behind: no clientapi-test domain, pool, copy or log, and the $ours_before daemons it started have exited"
echo "# the libvirt suite took $(ms_since "$suite_t0") ms"
exit $((failures > 0))
