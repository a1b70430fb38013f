#!/usr/bin/env bash
# qemu-boot.sh - the shared QEMU launcher's command line, through --dry-run.
#
# Plan
#   1  a disk image boots from IDE with the format taken from its extension
#   2  an ISO boots as a read-only CD
#   3  unix:PATH puts COM1 on a socket QEMU waits on; --qmp adds a QMP socket
#   4  commas in paths are doubled for QEMU's option syntax
#   5  KVM is chosen only where it can work, and QEMU_ACCEL / --accel override it
#   6  an unknown option is refused with a sentence and the usage line (status 2)
#   7  an unknown format name is refused and the known ones are listed
#   8  a missing image is refused (status 1)
#   9  an image whose format cannot be told from its name asks for --format
#  10  --snapshot leaves the image untouched and unlocked
#  11  a kernel boots with its initramfs, forwards bound to 127.0.0.1, fw_cfg and 9p shares
#  12  the user network is closed (restrict=on, no IPv6) but for hostfwd and guestfwd
#  13  bad kernel-boot values are refused with a sentence each
#  14  nothing to boot is a usage error, not the whole help on stderr
#  15  --runas USER has QEMU drop to USER; a user who does not exist is refused
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
qb=host/qemu-boot
plan 15
hint='usage: qemu-boot [options] [IMAGE] [-- QEMU-ARGS...] (qemu-boot --help lists the options)'

run "$qb" --dry-run --machine q35 "$B/boot.img"
expect_status 0
[[ $out == *"-machine q35 "* ]] || why+=("no -machine q35: $out")
[[ $out == *"file=$B/boot.img\\,format=raw\\,if=ide\\,index=0\\,media=disk"* ]] || why+=("no raw IDE disk: $out")
[[ $out == *"-boot order=c"* ]] || why+=("not booting from the disk: $out")
case_end "a disk image boots from IDE with the format taken from its extension"

run "$qb" --dry-run "$B/boot.iso"
expect_status 0
[[ $out == *"media=cdrom\\,readonly=on"* && $out == *"-boot order=d"* ]] || why+=("not a CD boot: $out")
case_end "an ISO boots as a read-only CD"

run "$qb" --dry-run --serial unix:/tmp/x/com1 --qmp /tmp/x/qmp "$B/boot.img"
expect_status 0
[[ $out == *"socket\\,id=com1\\,path=/tmp/x/com1\\,server=on\\,wait=on -serial chardev:com1"* ]] ||
	why+=("no COM1 socket: $out")
[[ $out == *"-qmp unix:/tmp/x/qmp\\,server=on\\,wait=off"* ]] || why+=("no QMP socket: $out")
case_end "unix:PATH puts COM1 on a socket QEMU waits on; --qmp adds a QMP socket"

cp "$B/boot.img" "$tmp/a,b.img"
run "$qb" --dry-run --serial unix:/tmp/c,d "$tmp/a,b.img"
expect_status 0
[[ $out == *"file=$tmp/a\\,\\,b.img\\,format=raw"* && $out == *"path=/tmp/c\\,\\,d\\,server"* ]] ||
	why+=("commas not doubled: $out")
case_end "commas in paths are doubled for QEMU's option syntax"

if [[ -r /dev/kvm && -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then want=kvm; else want=tcg; fi
run "$qb" --dry-run "$B/boot.img"
[[ $out == *"-accel $want "* ]] || why+=("expected -accel $want here: $out")
run env QEMU_ACCEL=tcg "$qb" --dry-run "$B/boot.img"
[[ $out == *"-accel tcg "* ]] || why+=("QEMU_ACCEL=tcg ignored: $out")
run "$qb" --dry-run --accel kvm "$B/boot.img"
[[ $out == *"-accel kvm "* ]] || why+=("--accel kvm ignored: $out")
case_end "KVM is chosen only where it can work, and QEMU_ACCEL / --accel override it"

run "$qb" --frobnicate "$B/boot.img"
expect_status 2
expect_err "qemu-boot: unknown option \"--frobnicate\".
$hint"
case_end "an unknown option is refused with a sentence and the usage line (status 2)"

run "$qb" --dry-run --format floppy "$B/boot.img"
expect_status 2
expect_err "qemu-boot: unknown format floppy: expected raw, qcow2, vmdk, vpc, vhdx, vdi or iso.
$hint"
case_end "an unknown format name is refused and the known ones are listed"

run "$qb" --dry-run "$tmp/none.img"
expect_status 1
expect_err "qemu-boot: cannot read the image $tmp/none.img."
case_end "a missing image is refused (status 1)"

cp "$B/boot.img" "$tmp/disk.dat"
run "$qb" --dry-run "$tmp/disk.dat"
expect_status 2
expect_err "qemu-boot: cannot tell the format of $tmp/disk.dat from its name; pass --format.
$hint"
case_end "an image whose format cannot be told from its name asks for --format"

run "$qb" --dry-run --snapshot "$B/boot.img"
[[ $out == *"media=disk\\,snapshot=on "* ]] || why+=("no snapshot=on: $out")
case_end "--snapshot leaves the image untouched and unlocked"

run "$qb" --dry-run --kernel "$B/boot.bin" --initrd "$B/boot.img" --append "console=ttyS0" \
	--memory 128 --cpus 2 --tb-size 32 --forward 4000:8080 --fw-cfg "opt/vmd/secret=$B/boot.bin" \
	--share "$tmp:data:ro" --serial "file:$tmp/console"
expect_status 0
for want in "-accel tcg\\,tb-size=32 " "-m 128 -smp 2 " "-kernel $B/boot.bin -initrd $B/boot.img -append console=ttyS0" \
	"hostfwd=tcp:127.0.0.1:4000-:8080 " "-fw_cfg name=opt/vmd/secret\\,file=$B/boot.bin" \
	"mount_tag=data\\,security_model=mapped-xattr\\,readonly=on" "-serial file:$tmp/console"; do
	[[ $want == -accel* && $out == *"-accel kvm"* ]] && continue	# tb-size is TCG's
	[[ $out == *"$want"* ]] || why+=("missing $want in: $out")
done
[[ $out != *"-boot order"* ]] || why+=("a kernel boot still sets a boot order: $out")
# A folder whose name has colons and a comma: PATH:TAG:MODE is split from the right.
mkdir -p "$tmp/a:b,c"
run "$qb" --dry-run --kernel "$B/boot.bin" --share "$tmp/a:b,c:ro:rw"
expect_status 0
[[ $out == *"-virtfs local\\,path=$tmp/a:b\\,\\,c\\,mount_tag=ro\\,security_model=mapped-xattr "* ]] ||
	why+=("the share of $tmp/a:b,c with tag ro, read-write, is not in: $out")
case_end "a kernel boots with its initramfs, forwards bound to 127.0.0.1, fw_cfg and 9p shares"

# The sandbox's network is closed (the guest reached the host's loopback through
# 10.0.2.2 and everything else through NAT before); a guestfwd command keeps its
# words and has its commas doubled for QEMU.
run "$qb" --dry-run --kernel "$B/boot.bin" --forward 4000:8080 \
	--guestfwd "10.0.2.100:3128:/opt/vm ctl egress --allow 'a,b'"
expect_status 0
[[ $out == *"-netdev user\\,id=net0\\,restrict=on\\,ipv6=off\\,hostfwd=tcp:127.0.0.1:4000-:8080\\,guestfwd=tcp:10.0.2.100:3128-cmd:/opt/vm\\ ctl\\ egress\\ --allow\\ \\'a\\,\\,b\\' "* ]] ||
	why+=("no closed network with its guestfwd in: $out")
case_end "the user network is closed (restrict=on, no IPv6) but for hostfwd and guestfwd"

# bad SENTENCE ARGS...: a usage error, status 2 and the usage line; unusable SENTENCE
# ARGS...: a file that is not there, status 1 and the sentence alone.
bad() { local want=$1; shift; run "$qb" --dry-run "$@"; expect_status 2; expect_err "qemu-boot: $want
$hint"; }
unusable() { local want=$1; shift; run "$qb" --dry-run "$@"; expect_status 1; expect_err "qemu-boot: $want"; }
bad '--forward wants HOSTPORT:GUESTPORT, not "80".' --kernel "$B/boot.bin" --forward 80
bad '--guestfwd wants IP:PORT:CMD, not "10.0.2.100:3128".' --kernel "$B/boot.bin" --guestfwd 10.0.2.100:3128
bad '--memory wants MiB as a whole number, not "lots".' --kernel "$B/boot.bin" --memory lots
bad "--initrd and --append need --kernel." --append quiet "$B/boot.img"
unusable "cannot share $tmp/none: it is not a folder." --kernel "$B/boot.bin" --share "$tmp/none:tag"
bad "--share wants PATH:TAG, PATH:TAG:rw or PATH:TAG:ro, not \"$tmp\"." --kernel "$B/boot.bin" --share "$tmp"
bad '--share: the tag "0123456789012345678901234567890a" is longer than 31 bytes.' \
	--kernel "$B/boot.bin" --share "$tmp:0123456789012345678901234567890a"
bad '--fw-cfg wants NAME=FILE, not "opt/x".' --kernel "$B/boot.bin" --fw-cfg "opt/x"
unusable "cannot read the kernel $tmp/none." --kernel "$tmp/none"
case_end "bad kernel-boot values are refused with a sentence each"

run "$qb" --dry-run --snapshot
expect_status 2
expect_out ""
expect_err "qemu-boot: nothing to boot: give an IMAGE or --kernel.
$hint"
case_end "nothing to boot is a usage error, not the whole help on stderr"

run "$qb" --dry-run --kernel "$B/boot.bin" --runas nobody
expect_status 0
[[ $out == *" -runas nobody "* ]] || why+=("no -runas nobody in: $out")
unusable 'cannot run QEMU as "no-such-user": there is no such user.' --kernel "$B/boot.bin" --runas no-such-user
case_end "--runas USER has QEMU drop to USER; a user who does not exist is refused"

finish
