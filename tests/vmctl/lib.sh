# lib.sh - what the VM suites (e2e.sh, files.sh, shares.sh, sessions.sh) share: TAP, the build they drive, the
# state folder, and the isolation probe, static so that it runs in the guest. Sourced
# after the suite's plan line: vm_suite_ready NAME checks what the suite needs.
source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
B=${BUILD:-build}
here=$(dirname "${BASH_SOURCE[0]}")
vmctl=$B/vmctl
T="timeout -k 5"
state=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/vmctl}
state=${state:-/tmp/vmctl-$(id -u)}

vm_suite_ready() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "Bail out! $1 runs as root (the state folder is /tmp/vmctl-0)."
		exit 1
	fi
	for f in "$vmctl" "$B/guest/vmlinuz" "$B/guest/initrd.img"; do
		[[ -e $f ]] || { echo "Bail out! $f is missing; build it first (make all)."; exit 1; }
	done
	# The probe: prebuilt by make test, or built here.
	probe=$B/tests/probe-static
	if [[ ! -x $probe ]]; then
		probe=$tmp/probe-static
		${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -o "$probe" \
			"$here/../sandbox/probe.c" ||
			{ echo "Bail out! cannot build the probe (a static libc is in libc6-dev)."; exit 1; }
	fi
}

# need_wstool: $wstool, the client that speaks to vmd directly (wstool.c), prebuilt by
# make test or built here.
need_wstool() {
	wstool=$B/tests/wstool
	[[ -x $wstool ]] && return
	wstool=$tmp/wstool
	local c=$here/../../common
	${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I"$c" -I"$here/../vmd" \
		-o "$wstool" "$here/wstool.c" "$here/../vmd/wsclient.c" "$c/util.c" "$c/text.c" \
		"$c/proto.c" "$c/auth.c" "$c/sha256.c" -lcjson -lm ||
		{ echo "Bail out! cannot build wstool (libcjson-dev is needed)."; exit 1; }
}

# vm_secret PORT: the secret of the VM on PORT, from its state file.
vm_secret() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret"])' \
		"$state/$1.json"
}

# The suite's VM: its port in P, stopped on exit whatever happened.
P=''
vm_cleanup() {
	[[ -n $P && -e $state/$P.json ]] && $T 30 "$vmctl" stop "$P" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap vm_cleanup EXIT
ex() { $T 60 "$vmctl" exec "$P" "$@"; }

# vm_start_case NAME [START ARGS...]: the case that boots the suite's VM and sets P
# (and secret, its secret),
# within VM_START_BOUND ms (15000). Someone may be rebuilding the guest right now: a
# failed start is tried once more. The suite bails out when there is no VM.
# start_ms: how long the start took.
vm_start_case() {
	local name=$1 t0
	shift
	t0=$(date +%s%N)
	run $T 120 "$vmctl" start "$@"
	if [[ $status -ne 0 ]]; then
		echo "# vmctl start failed ($err); trying once more"
		sleep 3
		t0=$(date +%s%N)
		run $T 120 "$vmctl" start "$@"
	fi
	start_ms=$((($(date +%s%N) - t0) / 1000000))
	# A bound, not a benchmark: the guest is ready in about 2.5 s under TCG; a start
	# that takes many times that has hung somewhere (vmctl once slept 30 s in lws
	# after a ping's deadline, in a third of its starts).
	[[ $start_ms -le ${VM_START_BOUND:-15000} ]] ||
		why+=("vmctl start took $start_ms ms (bound ${VM_START_BOUND:-15000} ms)")
	P=$out
	expect_status 0
	expect_out_match '^[0-9]+$'
	expect_err ""
	if [[ $status -ne 0 || ! $P =~ ^[0-9]+$ ]]; then
		P=''
		case_end "$name"
		echo "Bail out! vmctl start failed: $err"
		exit 1
	fi
	secret=$(vm_secret "$P")
}

# talk: wstool talk to the suite's VM (requests on stdin; see wstool.c).
talk() { $T 60 "$wstool" talk "$P" "$secret"; }

# vm_stop_case: the last case, vmctl stop powers the VM off and leaves no state.
vm_stop_case() {
	local left
	run $T 60 "$vmctl" stop "$P"
	expect_status 0
	expect_err ""
	left=$(find "$state" -maxdepth 1 -name "$P.*" -printf '%f ')
	[[ -z $left ]] || why+=("left in $state: $left")
	P=''
	case_end "vmctl stop powers the VM off and leaves no state"
}
