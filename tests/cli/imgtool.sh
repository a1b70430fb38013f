#!/usr/bin/env bash
# imgtool.sh - the real imgtool on bad input: one sentence, a non-zero exit, nothing lost.
#
# Plan
#   1  a missing input is named
#   2  an empty input is refused
#   3  an unreadable input gives the system's reason (as an unprivileged user)
#   4  a boot.bin that is not 256 bytes is refused, and --force takes it
#   5  a 512-byte sector without 0x55AA is refused, and --force takes it
#   6  a boot.bin longer than the 1 MiB disk is refused even with --force
#   7  an unknown format name lists the known ones (status 2)
#   8  an output name with no known extension asks for -O
#   9  an unknown -o key lists the keys the format takes
#  10  writing over the input is refused
#  11  an output folder that does not exist is named
#  12  a read-only output folder gives the system's reason (as an unprivileged user)
#  13  a full disk (/dev/full) fails with ENOSPC
#  14  a truncated container fails info, check and convert with the same sentence
#  15  a corrupted container: check names the fault, exit 1
#  16  a failed convert leaves the old output untouched and no temporary file
#  17  check on a good image says so, exit 0
#  18  info --json gives the facts as JSON
#  19  -f given twice is refused (status 2)
#  20  a wrong -f gives that format's own sentence, not a guess
#  21  -f raw reads a .bin as the bytes it holds, not as a boot program
#  22  convert -p on a terminal redraws a progress line to 100% and ends it
#  23  convert -p prints nothing when stderr is not a terminal
#  24  a failed convert -p ends the progress line before the error
#  25  create writes a sparse empty disk of SIZE, and refuses a SIZE that is not one
#  26  create -b writes a qcow2 overlay as large as its base, read through it
#  27  a bad backing file, format or SIZE is one sentence and leaves no output
#  28  a missing backing file and a backing chain loop are one sentence in info, check
#      and convert
#  29  convert -o size= grows a disk in every format: the input's bytes, then zeros, as
#      qemu-img reads it; a fixed VHD grown to 20M is 20 MiB + 512 bytes, Azure's least
#  30  -o size= smaller than the input, not whole sectors, or not a size: one sentence,
#      exit 1, no output
#  31  convert -c writes a compressed qcow2 QEMU reads (zlib, or zstd by option)
#  32  -c on a format without compression, given twice, or zstd on version 2: one
#      sentence, no output
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
it=$B/imgtool
plan 32
as_nobody() { if [[ $(id -u) -eq 0 ]]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi; }
chmod 755 "$tmp"

run "$it" convert "$tmp/none.img" "$tmp/out.qcow2"
expect_status 1
expect_err "imgtool: cannot open $tmp/none.img: No such file or directory"
case_end "a missing input is named"

: >"$tmp/empty.img"
run "$it" convert "$tmp/empty.img" "$tmp/out.qcow2"
expect_status 1
expect_err "imgtool: $tmp/empty.img is empty: there is no disk in it."
case_end "an empty input is refused"

cp "$B/boot.img" "$tmp/secret.img"
chmod 600 "$tmp/secret.img"
run as_nobody "$it" convert "$tmp/secret.img" "$tmp/out.qcow2"
expect_status 1
expect_err "imgtool: cannot open $tmp/secret.img: Permission denied"
case_end "an unreadable input gives the system's reason (as an unprivileged user)"

head -c 300 /dev/zero | tr '\0' '\220' >"$tmp/long.bin"
run "$it" convert "$tmp/long.bin" "$tmp/long.img"
expect_status 1
expect_err "imgtool: $tmp/long.bin is 300 bytes; a boot program is 256 bytes (or a 512-byte sector ending in 0x55 0xAA). --force takes it anyway."
[[ ! -e $tmp/long.img ]] || why+=("an output was written anyway")
run "$it" convert --force "$tmp/long.bin" "$tmp/long.img"
expect_status 0
[[ $(od -An -tx1 -j510 -N2 "$tmp/long.img") == " 55 aa" ]] || why+=("--force output has no signature")
case_end "a boot.bin that is not 256 bytes is refused, and --force takes it"

head -c 512 /dev/zero | tr '\0' '\220' >"$tmp/sector.bin"
run "$it" convert "$tmp/sector.bin" "$tmp/sector.img"
expect_status 1
expect_err "imgtool: $tmp/sector.bin is a 512-byte sector without the boot signature 0x55 0xAA at 510; --force takes it as it is."
run "$it" convert --force "$tmp/sector.bin" "$tmp/sector.img"
expect_status 0
case_end "a 512-byte sector without 0x55AA is refused, and --force takes it"

truncate -s 2M "$tmp/huge.bin"
run "$it" convert --force "$tmp/huge.bin" "$tmp/huge.img"
expect_status 1
expect_err "imgtool: $tmp/huge.bin is 2097152 bytes: more than the 1 MiB disk it would boot from."
case_end "a boot.bin longer than the 1 MiB disk is refused even with --force"

run "$it" convert -O floppy "$B/boot.img" "$tmp/x"
expect_status 2
expect_err 'imgtool: unknown format "floppy"; the formats are raw, vhd, vhdx, vdi, vmdk and qcow2.
usage: imgtool convert [-f FORMAT] [-O FORMAT] [-o KEY=VALUE,...] [-c] [-p] [--force] INPUT OUTPUT'
case_end "an unknown format name lists the known ones (status 2)"

run "$it" convert "$B/boot.img" "$tmp/disk.xyz"
expect_status 1
expect_err "imgtool: cannot tell the format of $tmp/disk.xyz from its name; give one with -O."
case_end "an output name with no known extension asks for -O"

run "$it" convert -o compat=1.1 "$B/boot.img" "$tmp/x.vdi"
expect_status 1
expect_err "imgtool: vdi has no option compat; it takes subformat and uuid."
case_end "an unknown -o key lists the keys the format takes"

cp "$B/boot.img" "$tmp/same.img"
run "$it" convert -O raw "$tmp/same.img" "$tmp/same.img"
expect_status 1
expect_err "imgtool: $tmp/same.img is the input $tmp/same.img; write the output to another file."
cmp -s "$tmp/same.img" "$B/boot.img" || why+=("the input was changed")
case_end "writing over the input is refused"

run "$it" convert "$B/boot.img" "$tmp/no/such/folder/x.qcow2"
expect_status 1
expect_err "imgtool: cannot write $tmp/no/such/folder/x.qcow2: the folder $tmp/no/such/folder does not exist."
case_end "an output folder that does not exist is named"

mkdir -m 555 "$tmp/ro"
cp "$B/boot.img" "$tmp/pub.img"
chmod 644 "$tmp/pub.img"
run as_nobody "$it" convert "$tmp/pub.img" "$tmp/ro/x.qcow2"
expect_status 1
expect_err "imgtool: cannot write $tmp/ro/x.qcow2 in the folder $tmp/ro: Permission denied"
case_end "a read-only output folder gives the system's reason (as an unprivileged user)"

run "$it" convert -O raw "$B/boot.img" /dev/full
expect_status 1
expect_err "imgtool: cannot write /dev/full: No space left on device"
case_end "a full disk (/dev/full) fails with ENOSPC"

cp "$B/boot.qcow2" "$tmp/cut.qcow2"
truncate -s 2000 "$tmp/cut.qcow2"
want="imgtool: $tmp/cut.qcow2 is not a usable qcow2 image: its refcount table (offset 0xa00) runs past the end of the file."
for cmd in "info" "check" "convert -O raw"; do
	out_arg=()
	[[ $cmd == convert* ]] && out_arg=("$tmp/cut.img")
	run "$it" $cmd "$tmp/cut.qcow2" "${out_arg[@]}"
	expect_status 1
	expect_err "$want"
done
case_end "a truncated container fails info, check and convert with the same sentence"

cp "$B/boot.qcow2" "$tmp/bad.qcow2"
printf '\0\5' | dd of="$tmp/bad.qcow2" bs=1 seek=1032 conv=notrunc status=none
run "$it" check "$tmp/bad.qcow2"
expect_status 1
expect_err "imgtool: $tmp/bad.qcow2: entry 1 of the L2 table at offset 0x400 points to data at 0x5000000000000, past the end of the file."
case_end "a corrupted container: check names the fault, exit 1"

cp "$B/boot.vdi" "$tmp/good.vdi"
before=$(sha256sum <"$tmp/good.vdi")
run "$it" convert "$tmp/cut.qcow2" "$tmp/good.vdi"
expect_status 1
[[ $(sha256sum <"$tmp/good.vdi") == "$before" ]] || why+=("the old output was changed")
leftover=$(find "$tmp" -name '*.imgtool-*')
[[ -z $leftover ]] || why+=("temporary files left: $leftover")
case_end "a failed convert leaves the old output untouched and no temporary file"

run "$it" check "$B/boot.vdi"
expect_status 0
expect_out "$B/boot.vdi: vdi, virtual size 1048576, no faults."
case_end "check on a good image says so, exit 0"

run "$it" info --json "$B/boot.qcow2"
expect_status 0
[[ $out == "{"*'"format": "qcow2"'*'"virtual-size": 1048576'*'"file-size": 3072'*"}" ]] ||
	why+=("not the expected JSON: $out")
case_end "info --json gives the facts as JSON"

run "$it" info -f raw -f vdi "$B/boot.img"
expect_status 2
expect_err 'imgtool: -f is given twice; give it once.
usage: imgtool info [-f FORMAT] [--json] IMAGE'
case_end "-f given twice is refused (status 2)"

truncate -s 1M "$tmp/zeros.img"
run "$it" convert -f vdi "$tmp/zeros.img" "$tmp/zeros.qcow2"
expect_status 1
expect_err "imgtool: $tmp/zeros.img is not a usable VDI image: its signature is 0x00000000, not 0xbeda107f."
[[ ! -e $tmp/zeros.qcow2 ]] || why+=("an output was written anyway")
case_end "a wrong -f gives that format's own sentence, not a guess"

head -c 1000 "$B/boot.img" >"$tmp/disk.bin"
run "$it" convert -f raw "$tmp/disk.bin" "$tmp/disk.img"
expect_status 0
[[ $(stat -c %s "$tmp/disk.img") == 1024 ]] || why+=("not the 1000 bytes padded to a sector")
cmp -s -n 1000 "$tmp/disk.bin" "$tmp/disk.img" || why+=("the bytes changed")
case_end "-f raw reads a .bin as the bytes it holds, not as a boot program"

# A 4 GiB disk with 64 KiB of data at 3000 MiB: the walk jumps the hole to 73.24%, the
# data does not move it by a hundredth, and the last hole takes it to 100%. script(1)
# gives imgtool a terminal; the terminal turns each newline into \r\n.
truncate -s 4G "$tmp/big.img"
seq 1 20000 | head -c 65536 | dd of="$tmp/big.img" bs=1M seek=3000 conv=notrunc status=none
run script -qec "$it convert -p -O raw $tmp/big.img $tmp/big-out.img" /dev/null </dev/null
expect_status 0
expect_out $'\r    (0.00/100%)\r    (73.24/100%)\r    (100.00/100%)\r'
cmp -s "$tmp/big.img" "$tmp/big-out.img" || why+=("the converted disk differs")
case_end "convert -p on a terminal redraws a progress line to 100% and ends it"

run "$it" convert -p -O raw "$tmp/big.img" "$tmp/big-out.img"
expect_status 0
expect_out ""
expect_err ""
rm -f "$tmp/big.img" "$tmp/big-out.img"
case_end "convert -p prints nothing when stderr is not a terminal"

run script -qec "$it convert -p -O raw $B/boot.img /dev/full" /dev/null </dev/null
expect_status 1
expect_out $'\r    (0.00/100%)\r\nimgtool: cannot write /dev/full: No space left on device\r'
case_end "a failed convert -p ends the progress line before the error"

run "$it" create -f raw "$tmp/empty.raw" 8G
expect_status 0
expect_out ""
[[ $(stat -c %s "$tmp/empty.raw") == 8589934592 && $(stat -c %b "$tmp/empty.raw") == 0 ]] ||
	why+=("not a sparse 8 GiB file: $(stat -c '%s bytes, %b blocks' "$tmp/empty.raw")")
rm -f "$tmp/empty.raw"
run "$it" create "$tmp/empty.vdi" 1000
expect_status 1
expect_err "imgtool: SIZE 1000 is not a whole number of 512-byte sectors."
run "$it" create "$tmp/empty.vdi" 3X
expect_status 1
expect_err 'imgtool: SIZE "3X" is not a size: give a number of bytes, or one followed by K, M, G, T or P.'
run "$it" create "$tmp/empty.vdi"
expect_status 1
expect_err "imgtool: create needs a SIZE, or a backing file (-b) to take it from."
[[ ! -e $tmp/empty.vdi ]] || why+=("an output was written anyway")
case_end "create writes a sparse empty disk of SIZE, and refuses a SIZE that is not one"

mkdir -p "$tmp/ov"
"$it" create -f raw "$tmp/ov/base.raw" 64M
printf 'in the base' | dd of="$tmp/ov/base.raw" bs=1 seek=1000000 conv=notrunc status=none
run "$it" create -f qcow2 -b base.raw -F raw "$tmp/ov/top.qcow2"
expect_status 0
run "$it" info "$tmp/ov/top.qcow2"
expect_out "image:               $tmp/ov/top.qcow2
format:              qcow2
virtual size:        67108864
file size:           262144
allocated:           4096
compat:              1.1
version:             3
cluster size:        65536
l1 entries:          1
refcount order:      4
refcount bits:       16
header length:       104
backing file:        base.raw
backing file format: raw
allocated clusters:  0"
run "$it" check "$tmp/ov/top.qcow2"
expect_out "$tmp/ov/top.qcow2: qcow2, virtual size 67108864, no faults."
"$it" convert -O raw "$tmp/ov/top.qcow2" "$tmp/ov/flat.raw"
cmp -s "$tmp/ov/base.raw" "$tmp/ov/flat.raw" || why+=("the overlay does not read as its base")
run "$it" create -f qcow2 -b top.qcow2 -F qcow2 "$tmp/ov/top2.qcow2" 128M
expect_status 0
"$it" convert -O raw "$tmp/ov/top2.qcow2" "$tmp/ov/flat2.raw"
[[ $(stat -c %s "$tmp/ov/flat2.raw") == 134217728 ]] || why+=("the larger overlay is not 128 MiB")
cmp -s -n 67108864 "$tmp/ov/base.raw" "$tmp/ov/flat2.raw" || why+=("the chain does not read as its base")
cmp -s -i 67108864 "$tmp/ov/flat2.raw" /dev/zero -n 67108864 || why+=("past the base is not zeros")
case_end "create -b writes a qcow2 overlay as large as its base, read through it"

bad_create() {
	run "$it" create "$@"
	expect_status 1
	[[ $(find "$tmp/ov" -name 'bad*' -o -name '*.imgtool-*') == "" ]] || why+=("an output was left: $*")
}
bad_create -f qcow2 -b none.raw -F raw "$tmp/ov/bad.qcow2"
expect_err "imgtool: the backing file $tmp/ov/none.raw of $tmp/ov/bad.qcow2 cannot be opened: No such file or directory."
bad_create -f qcow2 -b base.raw -F qcow2 "$tmp/ov/bad.qcow2"
expect_err "imgtool: the backing file $tmp/ov/base.raw is a raw image, not qcow2."
bad_create -f qcow2 -b top.qcow2 -F raw "$tmp/ov/bad.qcow2"
expect_err "imgtool: the backing file $tmp/ov/top.qcow2 is a qcow2 image, not raw."
bad_create -f vdi -b base.raw -F raw "$tmp/ov/bad.vdi"
expect_err "imgtool: vdi images have no backing file; -b needs -f qcow2."
bad_create -b base.raw -F raw "$tmp/ov/bad.raw"
expect_err "imgtool: raw images have no backing file; -b needs -f qcow2."
bad_create -f qcow2 -b base.raw -F raw "$tmp/ov/bad.qcow2" 32M
expect_err "imgtool: SIZE 33554432 is smaller than the backing file $tmp/ov/base.raw (67108864 bytes); an overlay is at least as large as its backing file."
bad_create -f qcow2 -b base.raw -F raw "$tmp/ov/base.raw"
expect_err "imgtool: $tmp/ov/base.raw is the backing file $tmp/ov/base.raw; write the output to another file."
run "$it" create -f qcow2 -b base.raw "$tmp/ov/bad.qcow2"
expect_status 2
expect_err "imgtool: -b needs -F naming the backing file's format.
usage: imgtool create [-f FORMAT] [-o KEY=VALUE,...] [-b BACKING -F FORMAT] OUTPUT [SIZE]"
case_end "a bad backing file, format or SIZE is one sentence and leaves no output"

# loop.qcow2 names itself; a.qcow2 -> b.qcow2 -> a.qcow2; gone.qcow2's base is removed.
"$it" create -f qcow2 -b base.raw -F raw "$tmp/ov/loop.qcow2"
"$it" create -f qcow2 -b base.raw -F raw "$tmp/ov/a.qcow2"
"$it" create -f qcow2 -b a.qcow2 -F qcow2 "$tmp/ov/b.qcow2"
cp "$tmp/ov/base.raw" "$tmp/ov/gone.raw"
"$it" create -f qcow2 -b gone.raw -F raw "$tmp/ov/gone.qcow2"
rm "$tmp/ov/gone.raw"
# The name is at 0x80 (after the 104-byte header, the format extension and the end
# marker): rewrite it, and its length at 16, in place.
rename_backing() { printf '%s' "$2" | dd of="$1" bs=1 seek=128 conv=notrunc status=none
	printf "\\x$(printf %02x ${#2})" | xargs -0 printf | dd of="$1" bs=1 seek=19 conv=notrunc status=none; }
rename_backing "$tmp/ov/loop.qcow2" loop.qcow2
rename_backing "$tmp/ov/a.qcow2" b.qcow2
for cmd in info check convert; do
	out_arg=(); [[ $cmd == convert ]] && out_arg=("$tmp/ov/bad.raw")
	run "$it" $cmd "$tmp/ov/loop.qcow2" "${out_arg[@]}"
	expect_status 1
	expect_err "imgtool: the backing chain of $tmp/ov/loop.qcow2 loops back to it."
	run "$it" $cmd "$tmp/ov/b.qcow2" "${out_arg[@]}"
	expect_status 1
	expect_err "imgtool: the backing chain of $tmp/ov/b.qcow2 loops back to it."
	run "$it" $cmd "$tmp/ov/gone.qcow2" "${out_arg[@]}"
	expect_status 1
	expect_err "imgtool: the backing file $tmp/ov/gone.raw of $tmp/ov/gone.qcow2 cannot be opened: No such file or directory."
done
[[ ! -e $tmp/ov/bad.raw ]] || why+=("a convert left an output")
case_end "a missing backing file and a backing chain loop are one sentence in info, check and convert"


# --- growing ---------------------------------------------------------------------------
mkdir -p "$tmp/grow"
head -c 1048576 /dev/urandom >"$tmp/grow/in.raw"
cp "$tmp/grow/in.raw" "$tmp/grow/want.raw"
truncate -s 20M "$tmp/grow/want.raw"
for f in raw vhd vhdx vdi vmdk qcow2; do
	q=$f; [[ $f == vhd ]] && q=vpc
	run "$it" convert -O $f -o size=20M "$tmp/grow/in.raw" "$tmp/grow/out.$f"
	expect_status 0
	expect_err ""
	size=$(qemu-img info -f $q --output=json "$tmp/grow/out.$f" 2>&1 | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -n 1)
	[[ $size == 20971520 ]] || why+=("$f: qemu-img reads a virtual size of $size")
	cmp=$(qemu-img compare -f raw -F $q "$tmp/grow/want.raw" "$tmp/grow/out.$f" 2>&1) ||
		why+=("$f: qemu-img compare: $cmp")
done
"$it" convert -O vhd -o subformat=fixed,size=20M "$tmp/grow/in.raw" "$tmp/grow/azure.vhd"
[[ $(stat -c %s "$tmp/grow/azure.vhd") == $((20 * 1048576 + 512)) ]] ||
	why+=("the fixed VHD is $(stat -c %s "$tmp/grow/azure.vhd") bytes")
run "$it" convert -O qcow2 -o size=1M "$tmp/grow/in.raw" "$tmp/grow/same.qcow2"
expect_status 0
cmp=$(qemu-img compare -f raw -F qcow2 "$tmp/grow/in.raw" "$tmp/grow/same.qcow2" 2>&1) ||
	why+=("size= of the input's own size: $cmp")
case_end "convert -o size= grows a disk in every format: the input's bytes, then zeros, as qemu-img reads it; a fixed VHD grown to 20M is 20 MiB + 512 bytes, Azure's least"

bad_grow() { run "$it" convert -O vhd -o "size=$1" "$tmp/grow/in.raw" "$tmp/grow/bad.vhd"
	expect_status 1; }
bad_grow 512K
expect_err "imgtool: -o size=512K is smaller than $tmp/grow/in.raw (1048576 bytes): convert grows a disk, it never cuts one."
bad_grow 1000000
expect_err "imgtool: -o size=1000000 is not a whole number of 512-byte sectors."
bad_grow 2X
expect_err "imgtool: -o size=\"2X\" is not a size: give a number of bytes, or one followed by K, M, G, T or P."
bad_grow 0
expect_err "imgtool: -o size=0 makes a disk with no room in it; give its size in bytes."
[[ ! -e $tmp/grow/bad.vhd ]] || why+=("a refused size left an output")
case_end "-o size= smaller than the input, not whole sectors, or not a size: one sentence, exit 1, no output"

mkdir "$tmp/c"
yes "the quick brown fox jumps over the lazy dog" | head -c 1200000 >"$tmp/c/text"
"$it" create -f raw "$tmp/c/in.raw" 8M
dd if="$tmp/c/text" of="$tmp/c/in.raw" bs=1M seek=2 conv=notrunc status=none
for t in zlib zstd; do
	run "$it" convert -c -o compression_type=$t "$tmp/c/in.raw" "$tmp/c/$t.qcow2"
	expect_status 0
	expect_err ""
	run qemu-img info --output=json "$tmp/c/$t.qcow2"
	[[ $out == *"\"compression-type\": \"$t\""* ]] || why+=("$t: qemu-img info: $out")
	run qemu-img check "$tmp/c/$t.qcow2"
	[[ $out == *"100.00% compressed clusters"* ]] || why+=("$t: qemu-img check: $out")
	run qemu-img compare -f raw "$tmp/c/in.raw" "$tmp/c/$t.qcow2"
	expect_status 0
	size=$(stat -c %s "$tmp/c/$t.qcow2")
	((size < $(stat -c %s "$tmp/c/text") / 2)) || why+=("$t: $size bytes for 1.2 MB of text")
done
case_end "convert -c writes a compressed qcow2 QEMU reads (zlib, or zstd by option)"

run "$it" convert -c "$tmp/c/in.raw" "$tmp/c/bad.vhd"
expect_status 1
expect_err "imgtool: -c: vhd has no compressed form; qcow2 has (and VMDK's streamOptimized always is)."
run "$it" convert -c "$tmp/c/in.raw" "$tmp/c/bad.vmdk"
expect_status 1
expect_err "imgtool: -c: a VMDK is compressed as -o subformat=streamOptimized, which always is; give that instead."
run "$it" convert -c -c "$tmp/c/in.raw" "$tmp/c/bad.qcow2"
expect_status 2
[[ $err == "imgtool: -c is given twice; give it once."* ]] || why+=("-c -c: $err")
run "$it" convert -c -o compat=0.10,compression_type=zstd "$tmp/c/in.raw" "$tmp/c/bad.qcow2"
expect_status 1
expect_err "imgtool: -o compression_type=zstd needs compat=1.1: a version 2 image has no compression type."
[[ $(ls "$tmp/c") == "$(printf '%s\n' in.raw text zlib.qcow2 zstd.qcow2)" ]] ||
	why+=("left in the folder: $(ls "$tmp/c" | tr '\n' ' ')")
case_end "-c on a format without compression, given twice, or zstd on version 2: one sentence, no output"

finish
