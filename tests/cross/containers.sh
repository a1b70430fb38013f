#!/usr/bin/env bash
# containers.sh - every container imgtool writes, read by other people's code.
#
# For the containers `make all` built and for every other subformat and option (written
# here from build/boot.img), each reader must see the same 1 MiB disk:
#   qemu-img info (format, virtual size, subformat), qemu-img check where QEMU has one,
#   qemu-img compare against boot.img, the independent libyal reader (vhdiinfo,
#   vmdkinfo, qcowinfo), 7-Zip's extraction and test (no warning) where 7-Zip reads
#   the format, imgtool's own
#   check, and imgtool converting it back to raw. Sizes are checked against the goals.
# Then: the same input converted twice gives the same bytes (reproducible builds).
# Last, imgtool create's qcow2 overlays as QEMU reads and writes them.
#
# Plan: one case per container (see the table below), then 2 reproducibility cases,
# then 2 overlay cases.
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
it=$B/imgtool
# The same epoch as the Makefile's, so the reproducibility case compares like with like.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
raw=$B/boot.img

# name | how it is made: "build", imgtool -o options, or "-c OPTIONS" | QEMU format | qemu-img check? |
# libyal reader | 7zz reads it? | qemu-img info must mention | largest allowed size
table=(
	"boot.qcow2|build|qcow2|yes|qcowinfo|yes|\"compat\": \"1.1\"|3072"
	"v2.qcow2|compat=0.10,cluster_size=512|qcow2|yes|qcowinfo|yes|\"compat\": \"0.10\"|3072"
	"c64k.qcow2|-|qcow2|yes|qcowinfo|yes|\"cluster-size\": 65536|393216"
	"zlib.qcow2|-c cluster_size=512|qcow2|yes|qcowinfo|yes|\"compression-type\": \"zlib\"|3072"
	"zstd.qcow2|-c compression_type=zstd,cluster_size=512|qcow2|yes|-|no|\"compression-type\": \"zstd\"|3072"
	"boot.vhd|build|vpc|no|vhdiinfo|yes|\"format\": \"vpc\"|1049088"
	"dyn.vhd|subformat=dynamic|vpc|no|vhdiinfo|yes|\"format\": \"vpc\"|2100224"
	"dyn512k.vhd|subformat=dynamic,block_size=512K|vpc|no|vhdiinfo|yes|\"format\": \"vpc\"|530000"
	"boot.vhdx|build|vhdx|yes|vhdiinfo|yes|\"format\": \"vhdx\"|5242880"
	"fixed.vhdx|subformat=fixed|vhdx|yes|vhdiinfo|yes|\"format\": \"vhdx\"|5242880"
	"b32m.vhdx|block_size=32M|vhdx|yes|vhdiinfo|yes|\"format\": \"vhdx\"|37748736"
	"fixed32m.vhdx|subformat=fixed,block_size=32M|vhdx|yes|vhdiinfo|yes|\"format\": \"vhdx\"|37748736"
	"boot.vdi|build|vdi|yes|-|yes|\"format\": \"vdi\"|1049600"
	"fixed.vdi|subformat=fixed|vdi|yes|-|yes|\"format\": \"vdi\"|1049600"
	"boot.vmdk|build|vmdk|yes|vmdkinfo|yes|\"create-type\": \"monolithicFlat\"|512"
	"lsi.vmdk|adapter=lsilogic|vmdk|yes|vmdkinfo|yes|\"create-type\": \"monolithicFlat\"|512"
	"sparse.vmdk|subformat=monolithicSparse|vmdk|yes|vmdkinfo|yes|\"create-type\": \"monolithicSparse\"|131072"
	"stream.vmdk|subformat=streamOptimized|vmdk|yes|vmdkinfo|yes|\"create-type\": \"streamOptimized\"|16384"
)
plan $((${#table[@]} + 4))

for row in "${table[@]}"; do
	IFS='|' read -r name how qfmt qcheck libyal seven mention limit <<<"$row"
	if [[ $how == build ]]; then
		img=$B/$name
	else
		img=$tmp/$name
		opts=()
		# "-c OPTIONS": compressed, with those -o options
		[[ $how != "-c "* ]] || { opts=(-c); how=${how#-c }; }
		[[ $how == - ]] || opts+=(-o "$how")
		run "$it" convert "${opts[@]}" "$raw" "$img"
		expect_status 0
	fi

	size=$(stat -c %s "$img" 2>/dev/null || echo 0)
	((size > 0 && size <= limit)) || why+=("$name is $size bytes; the limit is $limit")

	run qemu-img info -f "$qfmt" --output=json "$img"
	expect_status 0
	[[ $out == *'"virtual-size": 1048576,'* ]] || why+=("qemu-img info: virtual size is not 1048576: $out")
	[[ $out == *"$mention"* ]] || why+=("qemu-img info does not say $mention")

	if [[ $qcheck == yes ]]; then
		run qemu-img check -f "$qfmt" "$img"
		expect_status 0
		[[ $out == *"No errors were found on the image."* ]] || why+=("qemu-img check: $out")
	fi

	run qemu-img compare -f raw -F "$qfmt" "$raw" "$img"
	expect_status 0
	expect_out "Images are identical."

	if [[ $libyal != - ]]; then
		run "$libyal" "$img"
		expect_status 0
		[[ $out == *"(1048576 bytes)"* ]] || why+=("$libyal does not see 1048576 bytes: $out")
	fi

	if [[ $seven == yes ]]; then
		7zz e -so "$img" 2>/dev/null >"$tmp/7z.out"
		cmp -s "$tmp/7z.out" "$raw" || why+=("7-Zip extracts something other than boot.img")
		# 7-Zip's test warns about data after the end of the payload, among others
		run 7zz t "$img"
		[[ $status -eq 0 && $out == *"Everything is Ok"* && $out != *[Ww]arning* ]] ||
			why+=("7zz t: $out")
	fi

	run "$it" check "$img"
	expect_status 0
	run "$it" convert -O raw "$img" "$tmp/back.img"
	expect_status 0
	cmp -s "$tmp/back.img" "$raw" || why+=("imgtool reads it back differently")
	readers=qemu-img
	[[ $libyal == - ]] || readers+=", $libyal"
	case_end "$name: $readers, 7-Zip and imgtool read the 1 MiB disk; $size <= $limit bytes"
done

# Reproducible: a second conversion of the same input, in another folder, is the same
# file byte for byte (timestamps from SOURCE_DATE_EPOCH, UUIDs and CID from the content).
mkdir -p "$tmp/again"
"$it" convert -o cluster_size=512 "$raw" "$tmp/again/boot.qcow2"	# as the Makefile does
for name in boot.vhd boot.vhdx boot.vdi boot.vmdk; do
	"$it" convert "$raw" "$tmp/again/$name"
done
for name in boot.qcow2 boot.vhd boot.vhdx boot.vdi boot.vmdk boot-flat.vmdk; do
	cmp -s "$B/$name" "$tmp/again/$name" || why+=("$name differs when made again")
done
case_end "the containers of make all come out byte-identical when made again"

# Different content gives different identities: VHD, VDI and VMDK UUIDs must not clash,
# or VirtualBox refuses to register the second disk.
cp "$raw" "$tmp/other.img"
printf 'x' | dd of="$tmp/other.img" bs=1 seek=300 conv=notrunc status=none
for ext in vhd vdi vmdk; do
	"$it" convert "$tmp/other.img" "$tmp/other.$ext"
	a=$("$it" info "$B/boot.$ext" | grep -i uuid | head -n 1)
	b=$("$it" info "$tmp/other.$ext" | grep -i uuid | head -n 1)
	[[ -n $a && $a != "$b" ]] || why+=("boot.$ext and other.$ext share the UUID line: $a")
done
case_end "different disks get different UUIDs"

# An overlay on a sparse 64 MiB raw base with data in it, named relative to the
# overlay's folder as vmctl names its bases.
mkdir -p "$tmp/ov"
"$it" create -f raw "$tmp/ov/base.raw" 64M
seq 1 20000 | head -c 65536 | dd of="$tmp/ov/base.raw" bs=1k seek=2100 conv=notrunc status=none
base_sum=$(sha256sum <"$tmp/ov/base.raw")
run "$it" create -f qcow2 -b base.raw -F raw "$tmp/ov/top.qcow2"
expect_status 0
run qemu-img info --output=json "$tmp/ov/top.qcow2"
expect_status 0
[[ $out == *'"virtual-size": 67108864,'* ]] || why+=("qemu-img info: not 64 MiB: $out")
[[ $out == *'"backing-filename": "base.raw",'* ]] || why+=("qemu-img info: no backing-filename base.raw: $out")
[[ $out == *'"backing-filename-format": "raw",'* ]] || why+=("qemu-img info: no backing-filename-format raw: $out")
[[ $out == *"\"full-backing-filename\": \"$tmp/ov/base.raw\","* ]] ||
	why+=("qemu-img does not find the base beside the overlay: $out")
run qemu-img check "$tmp/ov/top.qcow2"
expect_status 0
[[ $out == *"No errors were found on the image."* ]] || why+=("qemu-img check: $out")
run qemu-img compare "$tmp/ov/top.qcow2" "$tmp/ov/base.raw"
expect_status 0
expect_out "Images are identical."
case_end "imgtool create -b: qemu-img sees the backing file and its format, no errors, the base's disk"

# A write through QEMU lands in the overlay: the base keeps its bytes, and QEMU and
# imgtool read the same new disk through the overlay.
run qemu-io -f qcow2 -c 'write -P 0xab 1M 64k' "$tmp/ov/top.qcow2"
expect_status 0
[[ $(sha256sum <"$tmp/ov/base.raw") == "$base_sum" ]] || why+=("the write changed the base")
run qemu-img compare "$tmp/ov/top.qcow2" "$tmp/ov/base.raw"
expect_status 1
expect_out "Content mismatch at offset 1048576!"
run qemu-img check "$tmp/ov/top.qcow2"
expect_status 0
run "$it" check "$tmp/ov/top.qcow2"
expect_status 0
qemu-img convert -O raw "$tmp/ov/top.qcow2" "$tmp/ov/qemu.raw"
run "$it" convert -O raw "$tmp/ov/top.qcow2" "$tmp/ov/imgtool.raw"
expect_status 0
cmp -s "$tmp/ov/qemu.raw" "$tmp/ov/imgtool.raw" || why+=("imgtool reads other bytes than qemu-img")
head -c 65536 /dev/zero | tr '\0' '\253' | cmp -s -i 0:1048576 -n 65536 - "$tmp/ov/imgtool.raw" ||
	why+=("the 0xab bytes are not at 1 MiB")
case_end "a write through qemu-io lands in the overlay only; imgtool reads what qemu-img reads"

finish
