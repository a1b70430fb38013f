#!/usr/bin/env bash
# files.sh - vmctl install and vmctl cp on a real VM (QEMU; TCG where there is no KVM):
# one VM is booted for the suite, with memory for a 100 MB file in its RAM-backed
# home, and stopped by the last case (or on exit, whatever happened). Every vmctl call
# runs under timeout, so a hang is a failure, not a stall.
#
# The program installed is tests/sandbox/probe.c, static ($BUILD/tests/probe-static
# when the Makefile built it, else built here).
#
# Plan
#   1  vmctl start --memory 1024 boots a VM and prints its port
#   2  install: a static program lands in /usr/local/bin under its own name and runs
#      sandboxed by that name
#   3  install with a NAME: the program is installed and runs as NAME
#   4  install: bad NAMEs are refused on the host, exit 2 with the usage line
#   5  install: a missing FILE, and a FILE over the frame limit (which suggests cp)
#   6  cp: 100 MB of random bytes go up and come back byte-identical (sha256 both ends)
#   7  cp: a download of a missing path fails with vmd's sentence and leaves no LOCAL
#   8  cp: a download of /etc/passwd is refused and an existing LOCAL is kept as it was
#   9  cp: an upload into a missing folder is refused with vmd's sentence
#  10  cp: - is stdin for an upload and stdout for a download
#  11  cp: an upload keeps LOCAL's permission bits; a download into a folder keeps the name
#  12  cp: --uid 1000 is the sandbox user's home; a uid without a session is refused
#  13  cp: usage mistakes exit 2 with the usage line
#  14  vmctl stop powers the VM off and leaves no state
#
# Here --uid is tried on the default user and on a uid without a session; cp as a
# session's user is in sessions.sh.
source "$(dirname "$0")/lib.sh"
plan 14
vm_suite_ready files.sh

ms() { echo $(($(date +%s%N) / 1000000)); }
# left_behind DIR: files a download may have left there (its temporary files).
left_behind() { find "$1" -maxdepth 1 -name '.*.vmctl-*' -printf '%f '; }
usage_install='usage: vmctl install [--idle-timeout S] PORT FILE [NAME]'
usage_cp='usage: vmctl cp [--uid N] [--idle-timeout S] LOCAL PORT:PATH | [--uid N] [--idle-timeout S] [--max-size SIZE] PORT:PATH LOCAL'

# --- 1: start -------------------------------------------------------------------------
vm_start_case "vmctl start --memory 1024 boots a VM and prints its port" --memory 1024
case_end "vmctl start --memory 1024 boots a VM and prints its port"

# --- 2-5: install ---------------------------------------------------------------------
cp "$probe" "$tmp/fprobe"
run $T 60 "$vmctl" install "$P" "$tmp/fprobe"
expect_status 0
expect_out "/usr/local/bin/fprobe"
expect_err ""
run ex -- fprobe create /home/sandbox/made
expect_status 0
run ex --raw -- stat -c '%a %u' /usr/local/bin/fprobe /home/sandbox/made
expect_out "755 0
644 1000"
case_end "install: a static program lands in /usr/local/bin under its own name and runs sandboxed by that name"

run $T 60 "$vmctl" install "$P" "$tmp/fprobe" my-probe
expect_status 0
expect_out "/usr/local/bin/my-probe"
expect_err ""
run ex -- my-probe create /home/sandbox/made2
expect_status 0
case_end "install with a NAME: the program is installed and runs as NAME"

for bad in a/b .. . ''; do
	run $T 30 "$vmctl" install "$P" "$tmp/fprobe" "$bad"
	expect_status 2
	expect_err "vmctl: install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or \"..\", not \"$bad\".
$usage_install"
done
long=$(printf 'x%.0s' {1..256})
run $T 30 "$vmctl" install "$P" "$tmp/fprobe" "$long"
expect_status 2
run $T 30 "$vmctl" install "$P" "$tmp/"
expect_status 2
expect_err "vmctl: install wants a NAME of 1 to 255 bytes, without \"/\" and not \".\" or \"..\", not \"\" (FILE's name; give a NAME).
$usage_install"
run ex --raw -- ls /usr/local/bin
expect_out "fprobe
my-probe"
case_end "install: bad NAMEs are refused on the host, exit 2 with the usage line"

run $T 30 "$vmctl" install "$P" "$tmp/nothing"
expect_status 1
expect_err "vmctl: cannot open $tmp/nothing: No such file or directory"
head -c 13000000 /dev/zero >"$tmp/huge"
run $T 30 "$vmctl" install "$P" "$tmp/huge"
expect_status 1
expect_err "vmctl: $tmp/huge is 13000000 bytes, more than one install message carries (12581715); vmctl cp $tmp/huge $P:huge copies it into the sandbox user's home instead."
rm -f "$tmp/huge"
case_end "install: a missing FILE, and a FILE over the frame limit (which suggests cp)"

# --- 6-13: cp -------------------------------------------------------------------------
head -c 100000000 /dev/urandom >"$tmp/big"
want=$(sha256sum <"$tmp/big" | cut -d' ' -f1)
t0=$(ms)
run $T 90 "$vmctl" cp "$tmp/big" "$P:big"
up_ms=$(($(ms) - t0))
expect_status 0
expect_out ""
expect_err ""
run ex -- sh -c 'sha256sum big'
expect_out "$want  big"
t0=$(ms)
run $T 90 "$vmctl" cp "$P:big" "$tmp/big.back"
down_ms=$(($(ms) - t0))
expect_status 0
expect_err ""
got=$(sha256sum <"$tmp/big.back" | cut -d' ' -f1)
[[ $got == "$want" ]] || why+=("downloaded sha256 $got, uploaded $want")
echo "# 100 MB up in $up_ms ms ($((100000 / (up_ms + 1))) MB/s), down in $down_ms ms ($((100000 / (down_ms + 1))) MB/s)"
ex -- rm -f big >/dev/null 2>&1
rm -f "$tmp/big" "$tmp/big.back"
case_end "cp: 100 MB of random bytes go up and come back byte-identical (sha256 both ends)"

run $T 30 "$vmctl" cp "$P:nope" "$tmp/nope"
expect_status 1
expect_out ""
expect_err "vmctl: fs_read: \"nope\" does not exist."
[[ ! -e $tmp/nope ]] || why+=("$tmp/nope was left")
[[ -z $(left_behind "$tmp") ]] || why+=("left in $tmp: $(left_behind "$tmp")")
case_end "cp: a download of a missing path fails with vmd's sentence and leaves no LOCAL"

echo "keep me" >"$tmp/kept"
run $T 30 "$vmctl" cp "$P:/etc/passwd" "$tmp/kept"
expect_status 1
expect_err "vmctl: fs_read: the path \"/etc/passwd\" escapes /home/sandbox."
[[ $(cat "$tmp/kept") == "keep me" ]] || why+=("$tmp/kept was changed")
[[ -z $(left_behind "$tmp") ]] || why+=("left in $tmp: $(left_behind "$tmp")")
case_end "cp: a download of /etc/passwd is refused and an existing LOCAL is kept as it was"

run $T 30 "$vmctl" cp "$tmp/kept" "$P:no/such/file"
expect_status 1
expect_err "vmctl: file_put: \"no/such\" does not exist."
case_end "cp: an upload into a missing folder is refused with vmd's sentence"

run $T 30 "$vmctl" cp - "$P:from-stdin" < <(printf 'line one\nline two\n')
expect_status 0
expect_err ""
run $T 30 "$vmctl" cp "$P:from-stdin" -
expect_status 0
expect_out "line one
line two"
expect_err ""
case_end "cp: - is stdin for an upload and stdout for a download"

printf '#!/bin/sh\necho script ran\n' >"$tmp/script.sh"
chmod 750 "$tmp/script.sh"
run $T 30 "$vmctl" cp "$tmp/script.sh" "$P:script.sh"
expect_status 0
run ex -- ./script.sh
expect_out "script ran"
mkdir "$tmp/into"
run $T 30 "$vmctl" cp "$P:script.sh" "$tmp/into"
expect_status 0
cmp -s "$tmp/script.sh" "$tmp/into/script.sh" || why+=("$tmp/into/script.sh differs or is missing")
case_end "cp: an upload keeps LOCAL's permission bits; a download into a folder keeps the name"

run $T 30 "$vmctl" cp --uid 1000 "$P:/home/sandbox/from-stdin" -
expect_status 0
expect_out "line one
line two"
run $T 30 "$vmctl" cp --uid 1001 "$P:from-stdin" "$tmp/u1001"
expect_status 1
expect_err "vmctl: fs_read: uid 1001 has no session."
[[ ! -e $tmp/u1001 ]] || why+=("$tmp/u1001 was left")
run $T 30 "$vmctl" cp --uid 1001 "$tmp/kept" "$P:kept"
expect_status 1
expect_err "vmctl: file_put: uid 1001 has no session."
case_end "cp: --uid 1000 is the sandbox user's home; a uid without a session is refused"

run $T 30 "$vmctl" cp "$tmp/kept" "$tmp/kept2"
expect_status 2
expect_err "vmctl: cp copies between this host and one sandbox: give exactly one of \"$tmp/kept\" and \"$tmp/kept2\" as PORT:PATH.
$usage_cp"
run $T 30 "$vmctl" cp "$P:a" "$P:b"
expect_status 2
run $T 30 "$vmctl" cp "$tmp/kept"
expect_status 2
expect_err "vmctl: cp needs a source and a destination, one of them PORT:PATH.
$usage_cp"
case_end "cp: usage mistakes exit 2 with the usage line"

# --- 14: stop -------------------------------------------------------------------------
vm_stop_case

finish
