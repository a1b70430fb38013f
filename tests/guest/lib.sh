# lib.sh - sourced by the guest image tests: build the test image, boot it under QEMU
# through host/qemu-boot, talk to it, and stop it. Uses tests/tap.sh for the TAP side.
#
# The test image is the real build with tests/guest/fake-vmd as /bin/vmd and a
# dynamically linked host program (/usr/bin/env) as /bin/sandbox-helper; it goes to
# $BUILD/guest-test and shares the package cache of $BUILD/guest.

source "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../free-port.sh"
B=${BUILD:-build}
G=$B/guest-test
CACHE=$B/guest/cache
qpids=()
# tap.sh removes $tmp on exit; QEMU processes started here go too. Only the script's
# own exit: bash also runs the trap in a child killed between its fork and its first
# command (wait_exit's watch, when QEMU had already exited).
trap '[[ $BASHPID != "$$" ]] || { for p in "${qpids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }' EXIT

# now: seconds since the epoch, with microseconds.
now() { printf '%s\n' "$EPOCHREALTIME"; }
# elapsed START: seconds since START, three decimals.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# build_test_image [build-image options]: the test image in $G, with the stand-ins for
# vmd and sandbox-helper unless options are given; stops the script on failure.
build_test_image() {
	[[ $# -gt 0 ]] || set -- --vmd tests/guest/fake-vmd --sandbox-helper /usr/bin/env
	guest/build-image --out "$G" --cache "$CACHE" "$@" >"$tmp/build.log" 2>&1 || {
		echo "Bail out! cannot build the test image: $(tail -n 3 "$tmp/build.log")"
		exit 1
	}
}

# new_secret: a 64-hex-digit secret in $tmp/secret (0600), like vmctl's.
new_secret() {
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret")
}

# hex32: 32 random bytes as 64 lowercase hex digits.
hex32() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# item FILE TEXT: FILE (0600) is TEXT padded with NUL bytes to the 512 bytes of the
# fw_cfg item opt/vmd/identity.
item() {
	(umask 077 && { printf '%s' "$2"; head -c $((512 - ${#2})) /dev/zero; } >"$1")
}

# new_identity [KEY=VALUE...]: a real identity in $tmp/identity, as the host writes
# one: the secret of $tmp/secret (new_secret first), a fresh seed, the time now, the
# hostname sb-test, no proxy, no read-only share and home in RAM, unless a KEY=VALUE
# says otherwise. Sets id_time to its time= value.
new_identity() {
	local -A v=([secret]=$(<"$tmp/secret") [seed]=$(hex32) [time]=${EPOCHREALTIME}000
		    [hostname]=sb-test [proxy]='' [ro_shares]='' [home]=ram)
	local kv k text='vmd-identity 1'$'\n'
	v[time]=${v[time]/,/.}
	for kv in "$@"; do v[${kv%%=*}]=${kv#*=}; done
	for k in secret seed time hostname proxy ro_shares home; do
		text+="$k=${v[$k]}"$'\n'
	done
	id_time=${v[time]}
	item "$tmp/identity" "$text"
}

# boot NAME [--kernel-append TEXT] [--initrd FILE] [--image DIR] [--identity FILE]
# [qemu-boot options]: start the image in $G (or DIR) in the background, given the
# identity FILE (default $tmp/identity), on the machine $GUEST_MACHINE (default pc).
# Sets qpid
# (QEMU's pid: qemu-boot execs it), port (the host end of the forward), log (COM1),
# qout (what QEMU itself printed), qmp (its socket) and t0 (the start time).
boot() {
	local name=$1 append initrd='' image=$G identity=$tmp/identity
	shift
	while [[ $# -gt 0 ]]; do
		case $1 in
		--kernel-append) append+=" $2"; shift 2 ;;
		--initrd)        initrd=$2; shift 2 ;;
		--image)         image=$2; shift 2 ;;
		--identity)      identity=$2; shift 2 ;;
		*)               break ;;
		esac
	done
	append="$(<"$image/cmdline")$append" initrd=${initrd:-$image/initrd.img}
	log=$tmp/$name.log qout=$tmp/$name.qemu qmp=$tmp/$name.qmp port=$(free_port)
	t0=$(now)
	host/qemu-boot --kernel "$image/vmlinuz" --initrd "$initrd" --append "$append" \
		--machine "${GUEST_MACHINE:-pc}" --memory 128 --tb-size 64 --forward "$port:8080" \
		--fw-cfg "opt/vmd/identity=$identity" --serial "file:$log" --qmp "$qmp" "$@" \
		</dev/null >"$qout" 2>&1 &
	qpid=$!
	qpids+=("$qpid")
}

# com1: what the guest wrote on COM1 so far, without the tty's carriage returns.
com1() { [[ ! -f $log ]] || tr -d '\r' <"$log"; }

# wait_line TEXT SECONDS: true once COM1 has a line TEXT; false when QEMU exits first
# or the time runs out.
wait_line() {
	local deadline
	deadline=$(awk -v a="$EPOCHREALTIME" -v s="$2" 'BEGIN { printf "%.3f", a + s }')
	while :; do
		com1 | grep -qxF -- "$1" && return 0
		kill -0 "$qpid" 2>/dev/null || return 1
		awk -v a="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(a > d) }' && return 1
		sleep 0.02
	done
}

# not_seen TEXT SECONDS: add to the case's reasons why wait_line TEXT failed: QEMU's
# exit status and its own last lines when it died first, else what COM1 shows.
not_seen() {
	local status
	if kill -0 "$qpid" 2>/dev/null; then
		why+=("no \"$1\" on COM1 within $2 s; COM1 says:" "$(com1 | tail -n 5)")
	else
		wait "$qpid"
		status=$?
		why+=("QEMU exited with status $status before \"$1\" appeared; its last lines:"
		      "$(tail -n 5 "$qout")" "COM1 says:" "$(com1 | tail -n 5)")
	fi
}

# wait_exit SECONDS: wait for QEMU to end; sets qstatus (143 when it had to be killed).
wait_exit() {
	local watch
	(sleep "$1"; kill "$qpid" 2>/dev/null) &
	watch=$!
	wait "$qpid"
	qstatus=$?
	kill "$watch" 2>/dev/null
	wait "$watch" 2>/dev/null
	return 0
}

# qmp_command NAME: send one QMP command to the running VM.
qmp_command() {
	printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$1" |
		socat -t 2 - "UNIX-CONNECT:$qmp" >/dev/null
}

# ask [LINE]: connect to the forwarded port on 127.0.0.1, send LINE if given, and
# put the answer in $answer.
ask() {
	answer=$(printf '%s' "${1:+$1$'\n'}" | socat -t 15 -T 15 - "TCP:127.0.0.1:$port" 2>&1)
}

# field NAME: the value of "NAME: value" in $answer.
field() { sed -n "s/^$1: //p" <<<"$answer"; }

# rss_mib PID: resident memory of PID in MiB.
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# need_wstool: $wstool, the client that speaks to vmd directly (tests/vmctl/wstool.c),
# prebuilt by make test or built here.
need_wstool() {
	wstool=$B/tests/wstool
	[[ -x $wstool ]] && return
	wstool=$tmp/wstool
	${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -Icommon -Itests/vmd \
		-o "$wstool" tests/vmctl/wstool.c tests/vmd/wsclient.c common/util.c common/text.c \
		common/proto.c common/auth.c common/sha256.c -lcjson -lm ||
		{ echo "Bail out! cannot build wstool (libcjson-dev is needed)."; exit 1; }
}

# talk: wstool talk to the VM on $port with the secret of $tmp/secret (requests on
# stdin, one a line; see wstool.c).
talk() { timeout 60 "$wstool" talk "$port" "$(<"$tmp/secret")"; }
