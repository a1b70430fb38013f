#!/usr/bin/env bash
# template.sh - sandboxes cloned from a booted template, and their home disks, on real
# VMs (QEMU; TCG where there is no KVM). The suite keeps its templates in a cache
# folder of its own (XDG_CACHE_HOME), so each case knows what is there.
#
# Plan
#   1  template build makes one template (ram, state, meta, a read-only disk its guest
#      has mounted) under the cache and prints its folder; a second build reuses it
#   2  start clones it: the QEMU maps the template's RAM copy-on-write, the sandbox
#      answers, nothing on stderr
#   3  two clones differ in secret, hostname, random draws (uuid) and have the host's
#      clock; neither secret is in the template's files
#   4  --cold boots without the template; the shares and --share-ro work on a clone
#   5  a truncated device state is seen before it is loaded: the template is made again
#   6  a damaged device state whose record was forged too: QEMU refuses it, start says
#      so in one line, makes the template again and the sandbox runs
#   7  a RAM file or a disk changed after it was made (its change time) makes the
#      template anew
#   8  another QEMU (a different binary on PATH) gets a template of its own
#   9  two starts at once with no template: both run, one template was made
#  10  the home disk: 1 GB, larger than the guest's RAM, goes in and out byte for byte
#  11  a full home disk: the command gets ENOSPC, vmd keeps serving
#  12  template rm removes the templates; running clones go on; stop removes the disk
source "$(dirname "$0")/lib.sh"
plan 12
vm_suite_ready template.sh

export XDG_CACHE_HOME=$tmp/cache
cache=$XDG_CACHE_HOME/vmctl/templates
ports=()
template_cleanup() {
	for p in "${ports[@]}"; do
		[[ -e $state/$p.json ]] && $T 30 "$vmctl" stop "$p" >/dev/null 2>&1
	done
	vm_cleanup
}
trap template_cleanup EXIT
# start_one [ARGS...]: vmctl start; its port in $out (and in ports, to be stopped).
start_one() {
	run $T 120 "$vmctl" start "$@"
	[[ $status -eq 0 ]] && ports+=("$out")
}
templates() { find "$cache" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort; }
qemu_cmdline() { tr '\0' ' ' <"/proc/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$state/$1.json")/cmdline"; }
on() { $T 60 "$vmctl" exec "$1" "${@:2}"; }

# --- 1: template build -----------------------------------------------------------------
run $T 120 "$vmctl" template build
expect_status 0
expect_err ""
dir=$out
[[ $dir == "$cache"/* && -d $dir ]] || why+=("the folder printed: $dir")
for f in ram state meta disk; do [[ -s $dir/$f ]] || why+=("no $f in $dir"); done
[[ $(stat -c %a "$dir/disk" 2>/dev/null) == 400 ]] || why+=("the template's disk is not read-only")
# The template's guest mounted it before it was saved (each clone's disk is a copy): a
# qcow2 overlay on the cache's empty base with what the mount wrote (the superblock).
info=$("$B/imgtool" info "$dir/disk" 2>&1)
[[ $info == *"format:              qcow2"* &&
   $info == *"backing file:        $XDG_CACHE_HOME/vmctl/disks/home-8589934592.ext4"* ]] ||
	why+=("the template's disk: $info")
[[ $(sed -n 's/^allocated clusters: *//p' <<<"$info") -ge 1 ]] ||
	why+=("nothing of the template's mount is in its disk: $info")
[[ $(stat -c %s "$dir/ram" 2>/dev/null) == $((128 << 20)) ]] || why+=("the RAM file is not 128 MiB")
[[ $(templates | wc -l) -eq 1 ]] || why+=("templates: $(templates | tr '\n' ' ')")
ino=$(stat -c %i "$dir/ram")
run $T 60 "$vmctl" template build
expect_status 0
expect_out "$dir"
[[ $(stat -c %i "$dir/ram") == "$ino" ]] || why+=("a second build made it again")
case_end "template build makes one template (ram, state, meta, a read-only disk its guest has mounted) under the cache and prints its folder; a second build reuses it"

# --- 2: a clone --------------------------------------------------------------------------
start_one
expect_status 0
expect_err ""
P=$out
secret=$(vm_secret "$P")
cmd=$(qemu_cmdline "$P")
[[ $cmd == *"mem-path=$dir/ram,share=off"* ]] || why+=("QEMU's command line: $cmd")
[[ $cmd == *"-incoming defer"* ]] || why+=("QEMU was not started -incoming defer")
run ex -- echo hello
expect_out "hello"
case_end "start clones it: the QEMU maps the template's RAM copy-on-write, the sandbox answers, nothing on stderr"

# --- 3: two clones differ --------------------------------------------------------------
start_one
P2=$out
expect_err ""
a=$(on "$P" --raw -- sh -c 'hostname; cat /proc/sys/kernel/random/uuid; date +%s')
b=$(on "$P2" --raw -- sh -c 'hostname; cat /proc/sys/kernel/random/uuid; date +%s')
now=$(date +%s)
[[ $(sed -n 1p <<<"$a") == "sandbox-$P" && $(sed -n 1p <<<"$b") == "sandbox-$P2" ]] ||
	why+=("hostnames: $(sed -n 1p <<<"$a") and $(sed -n 1p <<<"$b")")
[[ $(sed -n 2p <<<"$a") != "$(sed -n 2p <<<"$b")" ]] || why+=("the same uuid in both clones")
for t in "$(sed -n 3p <<<"$a")" "$(sed -n 3p <<<"$b")"; do
	((t >= now - 5 && t <= now + 1)) || why+=("a clone's clock says $t, the host's $now")
done
s2=$(vm_secret "$P2")
[[ $secret != "$s2" ]] || why+=("both clones have the same secret")
for s in "$secret" "$s2"; do
	grep -rqaF "$s" "$dir" && why+=("a secret is in the template's files")
done
case_end "two clones differ in secret, hostname, random draws (uuid) and have the host's clock; neither secret is in the template's files"

# --- 4: --cold, and shares on a clone --------------------------------------------------
start_one --cold
expect_status 0
expect_err ""
Pc=$out
[[ $(qemu_cmdline "$Pc") != *memory-backend-file* ]] || why+=("--cold used a template")
[[ $(on "$Pc" -- echo cold) == cold ]] || why+=("the cold sandbox does not answer")
$T 30 "$vmctl" stop "$Pc" >/dev/null
mkdir -p "$tmp/data" "$tmp/lib"
echo from-host >"$tmp/lib/note"
start_one --share "$tmp/data" data --share-ro "$tmp/lib" lib
expect_status 0
expect_err ""
Ps=$out
[[ $(qemu_cmdline "$Ps") == *share=off* ]] || why+=("the sandbox with shares was not cloned")
[[ $(on "$Ps" -- cat /mnt/lib/note) == from-host ]] || why+=("the read-only share is not there")
on "$Ps" -- sh -c 'echo x >/mnt/lib/y' 2>/dev/null && why+=("a write to the read-only share worked")
on "$Ps" --raw -- sh -c 'echo from-guest >/mnt/data/z' || why+=("a write to the share failed")
[[ $(cat "$tmp/data/z" 2>/dev/null) == from-guest ]] || why+=("the share's file is not on the host")
$T 30 "$vmctl" stop "$Ps" >/dev/null
[[ $(templates | wc -l) -eq 2 ]] || why+=("templates after the shares: $(templates | tr '\n' ' ')")
case_end "--cold boots without the template; the shares and --share-ro work on a clone"

# --- 5-7: damaged templates ----------------------------------------------------------
truncate -s 1000 "$dir/state"
start_one
expect_status 0
expect_err ""
[[ $(stat -c %s "$dir/state") -gt 1000 ]] || why+=("the truncated state was not made again")
[[ $(on "$out" -- echo up) == up ]] || why+=("the sandbox does not answer")
case_end "a truncated device state is seen before it is loaded: the template is made again"

python3 - "$dir" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
st = bytearray(open(d + "/state", "rb").read())
for i in range(64, len(st) - 64, 997):
    st[i] ^= 0x5a
open(d + "/state", "wb").write(st)
meta = open(d + "/meta").read().splitlines(True)
meta[-1] = "state %d %s\n" % (len(st), hashlib.sha256(st).hexdigest())
open(d + "/meta", "w").write("".join(meta))
PY
start_one
expect_status 0
[[ $err == "vmctl: the sandbox template did not load ("*"); making it again." ]] ||
	why+=("stderr: $(printf '%q' "$err")")
[[ $(wc -l <<<"$err") -eq 1 ]] || why+=("more than one line on stderr")
[[ $(on "$out" -- echo up) == up ]] || why+=("the sandbox does not answer")
case_end "a damaged device state whose record was forged too: QEMU refuses it, start says so in one line, makes the template again and the sandbox runs"

ino=$(stat -c %i "$dir/ram")
printf 'x' | dd of="$dir/ram" bs=1 seek=4096 conv=notrunc status=none
start_one
expect_status 0
expect_err ""
[[ $(stat -c %i "$dir/ram") != "$ino" ]] || why+=("the changed RAM file was used")
ino=$(stat -c %i "$dir/disk")
chmod 600 "$dir/disk" && chmod 400 "$dir/disk"
start_one
expect_status 0
expect_err ""
[[ $(stat -c %i "$dir/disk") != "$ino" ]] || why+=("the changed disk was used")
[[ $(on "$out" -- sh -c 'echo x >~/f && cat ~/f') == x ]] || why+=("the new clone's home is not writable")
case_end "a RAM file or a disk changed after it was made (its change time) makes the template anew"

# --- 8: another QEMU -------------------------------------------------------------------
mkdir -p "$tmp/qemu"
printf '#!/bin/sh\nexec %q "$@"\n' "$(command -v qemu-system-x86_64)" >"$tmp/qemu/qemu-system-x86_64"
chmod 755 "$tmp/qemu/qemu-system-x86_64"
before=$(templates)
run env PATH="$tmp/qemu:$PATH" $T 120 "$vmctl" start
expect_status 0
expect_err ""
[[ $status -eq 0 ]] && ports+=("$out")
[[ $(comm -13 <(echo "$before") <(templates) | wc -l) -eq 1 ]] || why+=("no template of its own: $(templates | tr '\n' ' ')")
[[ -d $dir ]] || why+=("the first QEMU's template is gone")
case_end "another QEMU (a different binary on PATH) gets a template of its own"

# --- 9: two starts at once -------------------------------------------------------------
run $T 60 "$vmctl" template rm
expect_status 0
$T 120 "$vmctl" start >"$tmp/s1" 2>"$tmp/e1" & j1=$!
$T 120 "$vmctl" start >"$tmp/s2" 2>"$tmp/e2" & j2=$!
wait $j1; r1=$?
wait $j2; r2=$?
for k in 1 2; do [[ -s $tmp/s$k ]] && ports+=("$(cat "$tmp/s$k")"); done
[[ $r1 -eq 0 && $r2 -eq 0 ]] || why+=("exit statuses $r1 and $r2: $(cat "$tmp/e1" "$tmp/e2")")
[[ ! -s $tmp/e1 && ! -s $tmp/e2 ]] || why+=("stderr: $(cat "$tmp/e1" "$tmp/e2")")
[[ $(templates | wc -l) -eq 1 ]] || why+=("templates: $(templates | tr '\n' ' ')")
for k in 1 2; do [[ $(on "$(cat "$tmp/s$k")" -- echo up) == up ]] || why+=("sandbox $k does not answer"); done
case_end "two starts at once with no template: both run, one template was made"

# --- 10-11: the home disk --------------------------------------------------------------
# 1 GB: eight times the guest's RAM, and more than its page cache could hide.
head -c 1000000000 /dev/urandom >"$tmp/big"
run $T 300 "$vmctl" cp "$tmp/big" "$P:big"
expect_status 0
expect_err ""
run $T 300 "$vmctl" cp "$P:big" "$tmp/big.back"
expect_status 0
cmp -s "$tmp/big" "$tmp/big.back" || why+=("the file came back different")
[[ $(on "$P" -- stat -c %s big) == 1000000000 ]] || why+=("the file in the sandbox has another size")
[[ $(on "$P" --raw -- sh -c 'grep " /home " /proc/mounts | tail -n 1 | cut -d" " -f1,3') == "/dev/vda ext4" ]] ||
	why+=("/home is not the ext4 disk")
rm -f "$tmp/big" "$tmp/big.back"
case_end "the home disk: 1 GB, larger than the guest's RAM, goes in and out byte for byte"

start_one --disk 64M
Pd=$out
run on "$Pd" -- sh -c 'dd if=/dev/zero of=fill bs=1M count=100 2>&1 | head -n 1; rm fill'
expect_out "dd: error writing 'fill': No space left on device"
[[ $(on "$Pd" -- echo still) == still ]] || why+=("vmd stopped answering")
[[ $(on "$Pd" --raw -- sh -c 'echo root >/home/root-note && cat /home/root-note') == root ]] ||
	why+=("root's reserved blocks are gone")
case_end "a full home disk: the command gets ENOSPC, vmd keeps serving"

# --- 12: rm, stop ----------------------------------------------------------------------
run $T 60 "$vmctl" template rm
expect_status 0
expect_err ""
[[ -z $(templates) ]] || why+=("left: $(templates | tr '\n' ' ')")
[[ $(on "$P" -- echo alive) == alive ]] || why+=("a clone died with its template")
for p in "${ports[@]}"; do
	[[ -e $state/$p.json ]] || continue
	$T 30 "$vmctl" stop "$p" >/dev/null || why+=("stop $p failed")
	[[ ! -e $state/$p.disk.qcow2 ]] || why+=("the disk of $p is left")
done
ports=() P=''
case_end "template rm removes the templates; running clones go on; stop removes the disk"
finish
