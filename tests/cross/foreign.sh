#!/usr/bin/env bash
# foreign.sh - images imgtool did not write: it reads them to the bytes QEMU reads, or
# refuses them by name. It never takes one it cannot read for a raw disk.
#
# Plan
#   1-8    each signature imgtool knows but does not read: qemu-img writes QED,
#          Parallels, LUKS and qcow version 1; a VMDK COWD extent, a DMG, a Bochs growing
#          image and a cloop image are made here byte by byte. qemu-img does not take it
#          for raw either; imgtool info, check and convert each refuse it with the one
#          sentence naming the format, exit 1, and write no output; with -f raw, convert
#          gives the file's own bytes and info says raw
#   9-39   every layout qemu-img writes in a format imgtool reads (VMDK, VHD, VHDX, VDI
#          and qcow2 subformats and options: VHDX dynamic and fixed, blocks of 1 to 256
#          MiB, an 8 MiB log; qcow2 compressed with zlib and with zstd): convert gives the bytes `qemu-img convert -O raw` gives,
#          check finds no faults, and info names the format
#   40     qemu-img's overlays, a chain of two on a raw base, each written through
#          qemu-io: imgtool reads the bytes qemu-img reads, and info names the backing file
#   41-44  qcow2 images imgtool cannot read (an external data file, LUKS and AES
#          encryption, subclusters): info, check and convert refuse each with its
#          reason, exit 1, and write no output
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
it=$B/imgtool
raw=$B/boot.img
list="raw, vhd, vhdx, vdi, vmdk and qcow2"

# qemu's PBKDF benchmark here sometimes measures no CPU time at all and gives up
# ("Unable to get accurate CPU usage"); a second try is a new measurement.
with_retries() {
	for _ in 1 2 3 4 5 6 7 8; do
		"$@" 2>/dev/null && return 0
	done
	"$@"
}
secret=(--object secret,id=sec0,data=x)

# The little-endian u32s given, as bytes on stdout.
le32() { for v; do printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))"; done; }
be32() { for v; do printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v >> 24 & 255)) $((v >> 16 & 255)) $((v >> 8 & 255)) $((v & 255)))"; done; }
# Write stdin into FILE at byte OFFSET.
poke() { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# A 1 MiB file of zeros at PATH with the boot sector as its second sector: the caller
# writes a header before it, and -f raw has data to keep.
blank() { truncate -s 0 "$1"; truncate -s 1M "$1"; dd if="$raw" of="$1" bs=512 seek=1 count=1 conv=notrunc status=none; }

make_foreign() {
	local name=$1 f=$tmp/$1
	case $name in
	boot.qed)       qemu-img convert -f raw -O qed "$raw" "$f" ;;
	boot.parallels) qemu-img convert -f raw -O parallels "$raw" "$f" ;;
	boot.luks)      with_retries qemu-img convert "${secret[@]}" -f raw -O luks \
				-o key-secret=sec0,iter-time=10 "$raw" "$f" ;;
	boot.qcow)      qemu-img convert -f raw -O qcow "$raw" "$f" ;;
	# The ESX Server 2 sparse header: version 1, 2048 sectors, 64 KiB grains.
	cowd.vmdk)      blank "$f"; { printf 'COWD'; le32 1 3 2048 128 4 1; } | poke "$f" 0 ;;
	# A UDIF trailer, version 4, 512 bytes long, as the last sector.
	boot.dmg)       blank "$f"; { printf 'koly'; be32 4 512; } | poke "$f" $((1048576 - 512)) ;;
	# A growing redolog, version 2, of one 4 KiB extent that is not allocated.
	growing.bochs)  blank "$f"
			printf 'Bochs Virtual HD Image' | poke "$f" 0
			printf 'Redolog' | poke "$f" 32
			printf 'Growing' | poke "$f" 48
			{ le32 0x20000 512 1 512 4096 0 4096 0; } | poke "$f" 64
			le32 0xFFFFFFFF | poke "$f" 512 ;;
	# The mounting script, then one 512-byte block whose compressed data is empty.
	boot.cloop)     blank "$f"
			printf '#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n' |
				poke "$f" 0
			{ be32 512 1 0 152 0 160; } | poke "$f" 128 ;;
	esac
}

# file | the name imgtool gives it | qemu-img's name for it ("-": QEMU refuses the file
# made here, which is enough to show it is no raw disk to QEMU either)
foreign=(
	"boot.qed|QED|qed"
	"boot.parallels|Parallels|parallels"
	"boot.luks|LUKS|luks"
	"boot.qcow|qcow version 1|qcow"
	"cowd.vmdk|VMDK COWD|-"
	"boot.dmg|DMG|-"
	"growing.bochs|Bochs|bochs"
	"boot.cloop|cloop|cloop"
)

# qemu-img's format | its convert options | what imgtool info calls it
readable=(
	"vmdk||vmdk"
	"vmdk|-o subformat=monolithicFlat|vmdk"
	"vmdk|-o subformat=twoGbMaxExtentSparse|vmdk"
	"vmdk|-o subformat=twoGbMaxExtentFlat|vmdk"
	"vmdk|-o subformat=streamOptimized|vmdk"
	"vmdk|-o compat6=on|vmdk"
	"vmdk|-o zeroed_grain=on|vmdk"
	"vpc||vhd"
	"vpc|-o subformat=fixed|vhd"
	"vpc|-o force_size=on|vhd"
	"vpc|-o subformat=fixed,force_size=on|vhd"
	"vhdx||vhdx"
	"vhdx|-o subformat=fixed|vhdx"
	"vhdx|-o block_size=8M|vhdx"
	"vhdx|-o block_size=256M|vhdx"
	"vhdx|-o subformat=fixed,block_size=32M|vhdx"
	"vhdx|-o log_size=8M|vhdx"
	"vdi||vdi"
	"vdi|-o static=on|vdi"
	"qcow2||qcow2"
	"qcow2|-o compat=0.10|qcow2"
	"qcow2|-o cluster_size=512|qcow2"
	"qcow2|-o cluster_size=2M|qcow2"
	"qcow2|-o lazy_refcounts=on|qcow2"
	"qcow2|-o refcount_bits=1|qcow2"
	"qcow2|-o refcount_bits=64|qcow2"
	"qcow2|-o preallocation=metadata|qcow2"
	"qcow2|-o preallocation=full|qcow2"
	"qcow2|-c|qcow2"
	"qcow2|-c -o compression_type=zstd|qcow2"
	"qcow2|-c -o compression_type=zstd,cluster_size=512|qcow2"
)

# file | the reason imgtool gives (after "FILE ")
unreadable=(
	"external.qcow2|keeps its data in an external data file; imgtool reads standalone images only."
	"luks.qcow2|is encrypted (LUKS); imgtool reads unencrypted images only."
	"aes.qcow2|is encrypted (AES); imgtool reads unencrypted images only."
	"subclusters.qcow2|uses extended L2 entries (subclusters), which imgtool does not read."
)
plan $((${#foreign[@]} + ${#readable[@]} + 1 + ${#unreadable[@]}))

# info, check and convert on $1 all fail with the sentence $2, exit 1, and leave no
# output file.
expect_refused_everywhere() {
	local img=$1 want=$2
	run "$it" info "$img"
	expect_status 1
	expect_err "$want"
	run "$it" check "$img"
	expect_status 1
	expect_err "$want"
	run "$it" convert -O raw "$img" "$tmp/out.img"
	expect_status 1
	expect_err "$want"
	[[ ! -e $tmp/out.img ]] || why+=("convert left $tmp/out.img")
	rm -f "$tmp/out.img"
}

for row in "${foreign[@]}"; do
	IFS='|' read -r name label qname <<<"$row"
	img=$tmp/$name
	make_foreign "$name" || why+=("cannot make $name")

	run qemu-img info --output=json "$img"
	if [[ $qname == - ]]; then
		[[ $status -ne 0 || $out != *'"format": "raw"'* ]] || why+=("qemu-img reads $name as raw")
	else
		expect_status 0
		[[ $out == *"\"format\": \"$qname\""* ]] || why+=("qemu-img does not call it $qname: $out")
	fi

	expect_refused_everywhere "$img" \
		"imgtool: $img is a $label image; imgtool reads $list (-f raw reads it as a raw disk)."

	run "$it" convert -f raw -O raw "$img" "$tmp/as-raw.img"
	expect_status 0
	expect_err ""
	cmp -s "$img" "$tmp/as-raw.img" || why+=("convert -f raw changed the bytes")
	run "$it" info -f raw "$img"
	expect_status 0
	expect_out_match $'\nformat: +raw\n'
	rm -f "$img" "$tmp/as-raw.img"
	by="qemu-img"
	[[ $name == @(cowd.vmdk|boot.dmg|growing.bochs|boot.cloop) ]] && by="made here"
	case_end "$name ($label, $by): refused by name everywhere; -f raw reads its bytes"
done

# A source with more to it than a boot sector: data in the middle, and in the last
# sector of a disk that is not a whole number of clusters or grains.
src=$tmp/src.img
truncate -s 5M "$src"
dd if="$raw" of="$src" conv=notrunc status=none
seq 1 20000 | head -c 65536 | dd of="$src" bs=1k seek=2100 conv=notrunc status=none
printf 'last sector' | dd of="$src" bs=512 seek=$((5 * 2048 - 1)) conv=notrunc status=none

for row in "${readable[@]}"; do
	IFS='|' read -r qfmt opts label <<<"$row"
	rm -rf "$tmp/q" && mkdir "$tmp/q"
	img=$tmp/q/disk.$qfmt
	# shellcheck disable=SC2086 # opts is a list of words
	run qemu-img convert -f raw -O "$qfmt" $opts "$src" "$img"
	expect_status 0
	run qemu-img convert -f "$qfmt" -O raw "$img" "$tmp/q/qemu.img"
	expect_status 0

	run "$it" convert -O raw "$img" "$tmp/q/imgtool.img"
	expect_status 0
	expect_err ""
	cmp -s "$tmp/q/qemu.img" "$tmp/q/imgtool.img" || why+=("imgtool reads other bytes than qemu-img")
	run "$it" check "$img"
	expect_status 0
	expect_out "$img: $label, virtual size $(stat -c %s "$tmp/q/qemu.img"), no faults."
	run "$it" info "$img"
	expect_out_match $'\nformat: +'"$label"$'\n'
	case_end "qemu-img -O $qfmt ${opts:-(its defaults)}: imgtool reads the bytes qemu-img reads"
done
rm -rf "$tmp/q"

# base.raw <- mid.qcow2 (64K clusters, by a relative name) <- top.qcow2 (512-byte
# clusters, compat 0.10, by an absolute name, and larger than its backing file).
mkdir "$tmp/chain"
cp "$src" "$tmp/chain/base.raw"
(cd "$tmp/chain" && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 &&
	qemu-io -f qcow2 -c 'write -P 0x11 1M 100k' mid.qcow2 >/dev/null &&
	qemu-img create -q -f qcow2 -o cluster_size=512,compat=0.10 -b "$tmp/chain/mid.qcow2" \
		-F qcow2 top.qcow2 8M &&
	qemu-io -f qcow2 -c 'write -P 0x22 1050k 4k' -c 'write -z 2100k 8k' top.qcow2 >/dev/null) ||
	why+=("qemu-img or qemu-io could not make the chain")
img=$tmp/chain/top.qcow2
qemu-img convert -O raw "$img" "$tmp/chain/qemu.img"
run "$it" convert -O raw "$img" "$tmp/chain/imgtool.img"
expect_status 0
expect_err ""
cmp -s "$tmp/chain/qemu.img" "$tmp/chain/imgtool.img" || why+=("imgtool reads other bytes than qemu-img")
run "$it" check "$img"
expect_status 0
expect_out "$img: qcow2, virtual size 8388608, no faults."
run "$it" info "$img"
expect_out_match $'\nbacking file: +'"$tmp/chain/mid.qcow2"$'\nbacking file format: +qcow2\n'
case_end "qemu-img's chain of overlays on a raw base: imgtool reads the bytes qemu-img reads"
rm -rf "$tmp/chain"

make_unreadable() {
	local f=$tmp/$1
	case $1 in
	external.qcow2)    qemu-img create -q -f qcow2 -o data_file="$tmp/external.data" "$f" 1M ;;
	luks.qcow2)        with_retries qemu-img create -q "${secret[@]}" -f qcow2 \
				-o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 "$f" 1M ;;
	aes.qcow2)         qemu-img create -q "${secret[@]}" -f qcow2 \
				-o encrypt.format=aes,encrypt.key-secret=sec0 "$f" 1M 2>/dev/null ;;
	subclusters.qcow2) qemu-img convert -f raw -O qcow2 -o extended_l2=on "$raw" "$f" ;;
	esac
}

for row in "${unreadable[@]}"; do
	IFS='|' read -r name reason <<<"$row"
	make_unreadable "$name" || why+=("cannot make $name")
	expect_refused_everywhere "$tmp/$name" "imgtool: $tmp/$name $reason"
	case_end "$name (qemu-img): refused with its reason everywhere"
done

finish
