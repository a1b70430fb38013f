#!/usr/bin/env bash
# packages.sh - the release (make dist) and every package imgtool pack writes, read by
# other people's code: GNU tar and Python's tarfile for the archives, xmllint with the
# DMTF OVF schema (tests/cross/ovf-schema) and the readers' own rules
# (tests/cross/ovf-rules.py) for the OVF, sha256sum for the manifest, 7-Zip, vmdkinfo,
# vhdiinfo and qemu-img for the disks inside, Python's json for Vagrant's metadata and
# Ruby for the Vagrantfiles. The disks inside are booted by tests/run (the REPL suite).
#
# Plan
#   1  make dist writes DIST: make all's images, the four packages and SHA256SUMS
#   2  make dist again, into another folder, writes the same bytes
#   3  make dist over an earlier DIST replaces it whole
#   4  make dist into a folder that is a file is refused, and nothing is written
#   5  the OVA is USTAR: boot.ovf, boot.mf, boot-disk1.vmdk, in that order, at most 16 KiB
#   6  the OVA's OVF validates against the OVF 1.1.1 schema, and a broken one does not
#   7  the OVA's OVF keeps VMware's and VirtualBox's rules, and a broken one does not
#   8  the OVA's manifest has the SHA256 of each member, and not its own
#   9  the OVA's VMDK passes 7zz t, vmdkinfo and qemu-img check, and holds boot.img
#  10  boot-azure.vhd is a fixed VHD of 20 MiB + 512 bytes, as Azure uploads take it
#  11  boot-gce.tar.gz is one sparse disk.raw of 1 GiB in an old-GNU tar, gzipped
#  12  boot-libvirt.box: metadata.json, Vagrantfile, box.img (qcow2, virtual_size GiB)
#  13  boot-virtualbox.box: box.ovf (valid), its VMDK, Vagrantfile with base_mac, metadata
#  14  a user's own qcow2 packs into an OVA with its name, memory and CPUs
#  15  a bad VM name, memory or CPU count is one sentence, and nothing is written
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
it=$B/imgtool
schema=tests/cross/ovf-schema/dsp8023_1.1.1.xsd
rules=tests/cross/ovf-rules.py
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
plan 15
MIB=1048576 GIB=1073741824

# make dist with this build, as a user runs it (not as a sub-make of make test).
dist() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s BUILD="$B" DIST="$1" dist; }

# The members of a tar archive, one per line: name, type, size, magic at 257 (Python's
# tarfile, not ours, and not GNU tar either).
members() {
	python3 - "$1" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t, open(sys.argv[1], "rb") as raw:
    data = raw.read()
    if data[:2] == b"\x1f\x8b":
        import gzip
        data = gzip.decompress(data)
    for m in t.getmembers():
        magic = data[m.offset + 257:m.offset + 265]
        kind = "sparse" if m.issparse() else "file" if m.isfile() else "other"
        print(m.name, kind, m.size, magic)
EOF
}

# --- the release ---------------------------------------------------------------------
files="boot.bin boot.img boot.iso boot.qcow2 boot.vmdk boot-flat.vmdk boot.vhd boot.vhdx
boot.vdi boot.ova boot-azure.vhd boot-gce.tar.gz boot-libvirt.box boot-virtualbox.box"
d=$tmp/dist
run dist "$d"
expect_status 0
expect_out "$d: 14 files and SHA256SUMS"
want=$(printf '%s\n' $files SHA256SUMS | LC_ALL=C sort)
got=$(ls "$d" 2>&1 | LC_ALL=C sort)
[[ $got == "$want" ]] || why+=("$d holds:" "$got" "expected:" "$want")
[[ $(awk '{ print $2 }' "$d/SHA256SUMS" 2>&1) == "$(printf '%s\n' $files)" ]] ||
	why+=("SHA256SUMS lists: $(awk '{ print $2 }' "$d/SHA256SUMS" 2>&1 | tr '\n' ' ')")
c=$(cd "$d" && sha256sum --strict -c SHA256SUMS 2>&1) || why+=("sha256sum -c:" "$c")
for f in $(awk '{ print $2 }' "$B/SHA256SUMS"); do
	cmp -s "$B/$f" "$d/$f" || why+=("$d/$f is not $B/$f")
done
case_end "make dist writes DIST: make all's images, the four packages and SHA256SUMS"

run dist "$tmp/again/"
expect_status 0
c=$(cmp "$d/SHA256SUMS" "$tmp/again/SHA256SUMS" 2>&1) || why+=("$c")
for f in $files; do
	cmp -s "$d/$f" "$tmp/again/$f" || why+=("$f differs from the first make dist")
done
case_end "make dist again, into another folder, writes the same bytes"

echo stale >"$tmp/again/leftover"
rm "$tmp/again/boot.ova"
run dist "$tmp/again"
expect_status 0
[[ ! -e $tmp/again/leftover ]] || why+=("a file of the earlier DIST is still there")
cmp -s "$d/boot.ova" "$tmp/again/boot.ova" || why+=("boot.ova is not back")
[[ ! -e $tmp/again.tmp ]] || why+=("$tmp/again.tmp is left behind")
case_end "make dist over an earlier DIST replaces it whole"

echo "not a folder" >"$tmp/afile"
run dist "$tmp/afile"
expect_status 2
[[ $err == "make dist: $tmp/afile is a file, not a folder; remove it or give DIST=a folder."* ]] ||
	why+=("stderr: $err")
[[ $(cat "$tmp/afile") == "not a folder" ]] || why+=("the file was changed")
[[ ! -e $tmp/afile.tmp ]] || why+=("$tmp/afile.tmp was made")
case_end "make dist into a folder that is a file is refused, and nothing is written"

# --- the OVA -----------------------------------------------------------------------------
ova=$d/boot.ova
x=$tmp/ova
mkdir -p "$x"
run members "$ova"
expect_status 0
vmdk_size=$(tar -xOf "$ova" boot-disk1.vmdk | wc -c)
expect_out "boot.ovf file $(tar -xOf "$ova" boot.ovf | wc -c) b'ustar\x0000'
boot.mf file $(tar -xOf "$ova" boot.mf | wc -c) b'ustar\x0000'
boot-disk1.vmdk file $vmdk_size b'ustar\x0000'"
size=$(stat -c %s "$ova")
((size <= 16384)) || why+=("boot.ova is $size bytes; the goal is 16 KiB")
c=$(tar -xf "$ova" -C "$x" 2>&1) || why+=("GNU tar: $c")
case_end "the OVA is USTAR: boot.ovf, boot.mf, boot-disk1.vmdk, in that order, at most 16 KiB"

run xmllint --schema "$schema" --noout --nonet "$x/boot.ovf"
expect_status 0
expect_err "$x/boot.ovf validates"
# the same without its References: the schema must refuse it
sed '/<References>/,/<\/References>/d' "$x/boot.ovf" >"$tmp/broken.ovf"
run xmllint --schema "$schema" --noout --nonet "$tmp/broken.ovf"
expect_status 3
case_end "the OVA's OVF validates against the OVF 1.1.1 schema, and a broken one does not"

run python3 "$rules" "$x/boot.ovf" "boot-disk1.vmdk=$vmdk_size"
expect_status 0
expect_out "OVF rules: 24 checked"
grep -q '<Disk ovf:capacity="1048576" ovf:capacityAllocationUnits="byte"' "$x/boot.ovf" ||
	why+=("the Disk's capacity is not boot.img's 1048576 bytes")
grep -q '<rasd:VirtualQuantity>32</rasd:VirtualQuantity>' "$x/boot.ovf" || why+=("no 32 MiB")
grep -q '<rasd:ResourceType>5</rasd:ResourceType>' "$x/boot.ovf" || why+=("no IDE controller")
sed 's/<Item ovf:required="false">/<Item>/' "$x/boot.ovf" >"$tmp/required.ovf"
run python3 "$rules" "$tmp/required.ovf" "boot-disk1.vmdk=$vmdk_size"
expect_status 1
expect_out 'Item 5 of type 21, which VirtualBox does not know, is not ovf:required="false"'
case_end "the OVA's OVF keeps VMware's and VirtualBox's rules, and a broken one does not"

want="SHA256(boot.ovf)= $(sha256sum <"$x/boot.ovf" | cut -d' ' -f1)
SHA256(boot-disk1.vmdk)= $(sha256sum <"$x/boot-disk1.vmdk" | cut -d' ' -f1)"
[[ $(cat "$x/boot.mf") == "$want" ]] || why+=("boot.mf:" "$(cat "$x/boot.mf")" "expected:" "$want")
case_end "the OVA's manifest has the SHA256 of each member, and not its own"

# check_vmdk FILE: the VMDK inside a package, read by three others.
check_vmdk() {
	run 7zz t "$1"
	expect_status 0
	[[ $out == *"Everything is Ok"* && $out != *WARNING* ]] || why+=("7zz t: $out")
	run vmdkinfo "$1"
	expect_status 0
	[[ $out == *"Disk type"*"Stream optimized"* ]] || why+=("vmdkinfo: $out")
	run qemu-img check -f vmdk "$1"
	expect_status 0
	run qemu-img info -f vmdk --output=json "$1"
	[[ $out == *'"create-type": "streamOptimized"'* ]] || why+=("qemu-img info: $out")
	run qemu-img compare -f raw -F vmdk "$B/boot.img" "$1"
	expect_status 0
}
check_vmdk "$x/boot-disk1.vmdk"
case_end "the OVA's VMDK passes 7zz t, vmdkinfo and qemu-img check, and holds boot.img"

# --- Azure ------------------------------------------------------------------------------------
az=$d/boot-azure.vhd
size=$(stat -c %s "$az")
[[ $size -eq $((20 * MIB + 512)) ]] || why+=("boot-azure.vhd is $size bytes, not 20 MiB + 512")
footer=$(tail -c 512 "$az" | od -An -tx1 -v | tr -d ' \n')
[[ ${footer:0:16} == "$(printf conectix | od -An -tx1 | tr -d ' \n')" ]] ||
	why+=("no conectix footer at the end")
# current size (48, 8 bytes) 20 MiB, type (60) 2: fixed
[[ ${footer:96:16} == 0000000001400000 ]] || why+=("current size field ${footer:96:16}")
[[ ${footer:120:8} == 00000002 ]] || why+=("disk type ${footer:120:8}, not fixed")
run qemu-img info -f vpc --output=json "$az"
[[ $out == *'"virtual-size": 20971520,'* ]] || why+=("qemu-img info: $out")
run vhdiinfo "$az"
expect_status 0
[[ $out == *"Disk type"*"Fixed"* && $out == *"Media size"*"20971520 bytes"* ]] || why+=("vhdiinfo: $out")
run 7zz t "$az"
[[ $status -eq 0 && $out != *WARNING* ]] || why+=("7zz t: $out")
run qemu-img compare -f raw -F vpc "$B/boot.img" "$az"
expect_status 0
case_end "boot-azure.vhd is a fixed VHD of 20 MiB + 512 bytes, as Azure uploads take it"

# --- GCE -------------------------------------------------------------------------------------------
gce=$d/boot-gce.tar.gz
run members "$gce"
expect_status 0
expect_out "disk.raw sparse $GIB b'ustar  \\x00'"
run gzip -t "$gce"
expect_status 0
mkdir "$tmp/gce"
c=$(tar -xSzf "$gce" -C "$tmp/gce" 2>&1) || why+=("GNU tar: $c")
raw=$tmp/gce/disk.raw
[[ $(stat -c %s "$raw" 2>/dev/null) -eq $GIB ]] || why+=("disk.raw is not 1 GiB")
# stored sparse: a few blocks on disk, not a GiB
(($(stat -c %b "$raw" 2>/dev/null || echo 9999999) * 512 < MIB)) ||
	why+=("disk.raw takes $(du -h "$raw" | cut -f1) on disk")
run qemu-img compare -f raw -F raw "$B/boot.img" "$raw"
expect_status 0
case_end "boot-gce.tar.gz is one sparse disk.raw of 1 GiB in an old-GNU tar, gzipped"

# --- Vagrant ----------------------------------------------------------------------------------------
box=$d/boot-libvirt.box
run members "$box"
expect_status 0
expect_out_match "^metadata.json file [0-9]+ b'ustar.x0000'
Vagrantfile file [0-9]+ b'ustar.x0000'
box.img file [0-9]+ b'ustar.x0000'$"
mkdir "$tmp/lv"
c=$(tar -xzf "$box" -C "$tmp/lv" 2>&1) || why+=("GNU tar: $c")
run python3 -c 'import json, sys; print(json.load(open(sys.argv[1])))' "$tmp/lv/metadata.json"
expect_out "{'provider': 'libvirt', 'format': 'qcow2', 'virtual_size': 1}"
run qemu-img info -f qcow2 --output=json "$tmp/lv/box.img"
[[ $out == *"\"virtual-size\": $GIB,"* ]] || why+=("box.img: $out")
run qemu-img check -f qcow2 "$tmp/lv/box.img"
expect_status 0
run qemu-img compare -f raw -F qcow2 "$B/boot.img" "$tmp/lv/box.img"
expect_status 0
run ruby -c "$tmp/lv/Vagrantfile"
expect_out "Syntax OK"
grep -q 'libvirt.memory = 32$' "$tmp/lv/Vagrantfile" || why+=("no libvirt.memory = 32")
case_end "boot-libvirt.box: metadata.json, Vagrantfile, box.img (qcow2, virtual_size GiB)"

box=$d/boot-virtualbox.box
run members "$box"
expect_status 0
expect_out_match "^box.ovf file [0-9]+ b'ustar.x0000'
box-disk1.vmdk file [0-9]+ b'ustar.x0000'
Vagrantfile file [0-9]+ b'ustar.x0000'
metadata.json file [0-9]+ b'ustar.x0000'$"
mkdir "$tmp/vb"
c=$(tar -xzf "$box" -C "$tmp/vb" 2>&1) || why+=("GNU tar: $c")
run xmllint --schema "$schema" --noout --nonet "$tmp/vb/box.ovf"
expect_status 0
run python3 "$rules" "$tmp/vb/box.ovf" "box-disk1.vmdk=$(stat -c %s "$tmp/vb/box-disk1.vmdk")"
expect_out "OVF rules: 24 checked"
check_vmdk "$tmp/vb/box-disk1.vmdk"
run python3 -c 'import json, sys; print(json.load(open(sys.argv[1])))' "$tmp/vb/metadata.json"
expect_out "{'provider': 'virtualbox'}"
run ruby -c "$tmp/vb/Vagrantfile"
expect_out "Syntax OK"
grep -Eq '^  config.vm.base_mac = "080027[0-9a-f]{6}"$' "$tmp/vb/Vagrantfile" ||
	why+=("no base_mac of VirtualBox's prefix: $(grep base_mac "$tmp/vb/Vagrantfile")")
case_end "boot-virtualbox.box: box.ovf (valid), its VMDK, Vagrantfile with base_mac, metadata"

# --- a user's own disk -------------------------------------------------------------------------------
own=$tmp/own.qcow2
qemu-img create -q -f qcow2 "$own" 3M
qemu-io -f qcow2 -c 'write -P 0x5a 1M 64k' -c 'write -P 0x33 0 512' "$own" >/dev/null
run "$it" pack -o name=myvm,memory=64,cpus=2 "$own" "$tmp/mine.ova"
expect_status 0
expect_out ""
expect_err ""
mkdir "$tmp/mine"
tar -xf "$tmp/mine.ova" -C "$tmp/mine" 2>/dev/null
[[ $(ls "$tmp/mine" | tr '\n' ' ') == "myvm-disk1.vmdk myvm.mf myvm.ovf " ]] ||
	why+=("mine.ova holds: $(ls "$tmp/mine" | tr '\n' ' ')")
run qemu-img compare -f qcow2 -F vmdk "$own" "$tmp/mine/myvm-disk1.vmdk"
expect_status 0
run xmllint --schema "$schema" --noout --nonet "$tmp/mine/myvm.ovf"
expect_status 0
grep -q '<Disk ovf:capacity="3145728"' "$tmp/mine/myvm.ovf" || why+=("capacity is not 3 MiB")
grep -q '<rasd:ElementName>64 MiB of memory</rasd:ElementName>' "$tmp/mine/myvm.ovf" ||
	why+=("not 64 MiB")
grep -q '<rasd:ElementName>2 virtual CPUs</rasd:ElementName>' "$tmp/mine/myvm.ovf" ||
	why+=("not 2 CPUs")
case_end "a user's own qcow2 packs into an OVA with its name, memory and CPUs"

bad() {
	run "$it" pack "$@"
	expect_status 1
	expect_out ""
	[[ ! -e ${*: -1} ]] || why+=("${*: -1} was written after: $err")
}
bad -o memory=100000000 "$B/boot.img" "$tmp/bad.ova"
expect_err "imgtool: -o memory=100000000: the memory size is a whole number of MiB from 4 to 1048576."
bad -o name='a b' "$B/boot.img" "$tmp/bad.ova"
expect_err "imgtool: -o name=a b: a VM name is 1 to 64 letters, digits, '.', '_' or '-', and starts with a letter or a digit."
bad -o cpus=33 "$B/boot.img" "$tmp/bad.ova"
expect_err "imgtool: -o cpus=33: the number of CPUs is a whole number from 1 to 32."
bad "$B/boot.img" "$tmp/bad.box"
expect_err "imgtool: $tmp/bad.box is a Vagrant box: give its provider with -O vagrant-libvirt or -O vagrant-virtualbox."
case_end "a bad VM name, memory or CPU count is one sentence, and nothing is written"
finish
