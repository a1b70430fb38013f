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
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
it=$B/imgtool
plan 24
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
expect_err 'imgtool: unknown format "floppy"; the formats are raw, vhd, vdi, vmdk and qcow2.
usage: imgtool convert [-f FORMAT] [-O FORMAT] [-o KEY=VALUE,...] [-p] [--force] INPUT OUTPUT'
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

finish
