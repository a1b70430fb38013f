#!/usr/bin/env bash
# image.sh - guest/build-image: its command line, a clean build without root, what
# the image holds, and reproducibility. Boots nothing (boot.sh does).
#
# Plan
#   1  without --vmd the build is refused with a sentence naming the way out
#   2  --vmd together with --without-vmd is refused
#   3  a vmd that is not an executable file is refused
#   4  an unknown option is refused
#   5  an option given twice is refused
#   6  the image builds into an empty folder without root (as uid 65534 when run as root)
#   7  vmlinuz is the kernel's ELF with a PVH entry and its .bss left out of the file
#   8  the archive has /dev/console as char 5,1 and every entry owned by root
#   9  the archive holds /init, busybox and its applets, vmd, sandbox-helper, and the helper's libraries and loader
#  10  the archive loads the modules of modules.order, each after what it depends on
#  11  the same inputs give the same initrd.img
#  12  --kernel-format bzimage writes Debian's bzImage unchanged
cd "$(dirname "$0")/../.."
source tests/guest/lib.sh
plan 12
bi=guest/build-image

run "$bi" --out "$tmp/x" --sandbox-helper /usr/bin/env
expect_status 2
expect_err "build-image: no vmd: pass --vmd FILE (or --without-vmd to build an image without it)."
case_end "without --vmd the build is refused with a sentence naming the way out"

run "$bi" --out "$tmp/x" --vmd tests/guest/fake-vmd --without-vmd --without-sandbox-helper
expect_status 2
expect_err "build-image: --vmd and --without-vmd contradict each other."
case_end "--vmd together with --without-vmd is refused"

run "$bi" --out "$tmp/x" --vmd tests/guest/lib.sh --without-sandbox-helper
expect_status 2
expect_err "build-image: the vmd program tests/guest/lib.sh is not an executable file."
case_end "a vmd that is not an executable file is refused"

run "$bi" --out "$tmp/x" --vmd tests/guest/fake-vmd --size 3
expect_status 2
expect_err "build-image: unknown argument --size (try --help)."
case_end "an unknown option is refused"

run "$bi" --out "$tmp/x" --vmd tests/guest/fake-vmd --vmd tests/guest/fake-vmd
expect_status 2
expect_err "build-image: option --vmd is given twice."
case_end "an option given twice is refused"

# The packages are copied in when this checkout has them: the case is about building
# without root from nothing, and downloading 70 MB again proves little.
clean=$tmp/clean
mkdir -p "$clean/cache"
cp "$CACHE"/*.deb "$clean/cache/" 2>/dev/null
as_user=() src=.
if [[ $(id -u) -eq 0 ]]; then
	chmod 755 "$tmp"
	chown -R 65534:65534 "$clean"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	# The user must read the sources too: a clone under /root (0700) it cannot, so it
	# builds from a copy of guest/ and the stand-in vmd in a folder it can read.
	src=$tmp/src
	mkdir -p "$src/tests/guest"
	cp -r guest "$src/"
	cp tests/guest/fake-vmd "$src/tests/guest/"
	chmod -R a+rX "$src"
fi
t=$(now)
run "${as_user[@]}" env SOURCE_DATE_EPOCH=1700000000 "$src/$bi" --out "$clean" \
	--vmd "$src/tests/guest/fake-vmd" --sandbox-helper /usr/bin/env
expect_status 0
for f in vmlinuz initrd.img cmdline; do
	[[ -s $clean/$f ]] || why+=("no $clean/$f")
done
[[ $status -eq 0 ]] || why+=("$err")
echo "# built in $(elapsed "$t") s as uid $( [[ ${#as_user[@]} -gt 0 ]] && echo 65534 || id -u)"
case_end "the image builds into an empty folder without root (as uid 65534 when run as root)"

elf=$(readelf -hlnW "$clean/vmlinuz" 2>&1)
[[ $elf == *"Type:"*"EXEC"* ]] || why+=("not an ELF executable")
grep -qE 'Xen .*(0x00000012|PHYS32)' <<<"$elf" || why+=("no PVH entry note (Xen, type 0x12)")
[[ -n $(awk '$1 == "LOAD" && $5 != $6' <<<"$elf") ]] || why+=("every LOAD segment is whole in the file")
case_end "vmlinuz is the kernel's ELF with a PVH entry and its .bss left out of the file"

head -c 512 "$clean/initrd.img" | cpio -itv --quiet >"$tmp/head.list" 2>&1
tail -c +513 "$clean/initrd.img" | cpio -itv --quiet >"$tmp/tail.list" 2>&1
grep -qE '^crw------- +1 root +root +5, +1 .* dev/console$' "$tmp/head.list" ||
	why+=("no /dev/console node: $(cat "$tmp/head.list")")
notroot=$(cat "$tmp/head.list" "$tmp/tail.list" | awk '$3 != "root" || $4 != "root"')
[[ -z $notroot ]] || why+=("not owned by root: $(head -n 3 <<<"$notroot")")
case_end "the archive has /dev/console as char 5,1 and every entry owned by root"

names=$(awk '{ print ($(NF - 1) == "->") ? $(NF - 2) : $NF }' "$tmp/tail.list")
libs=$(ldd /usr/bin/env | sed -n 's|.* => /\([^ ]*\) .*|\1|p; s|^[[:space:]]*/\([^ ]*\) .*|\1|p')
for f in init bin/busybox bin/sh usr/bin/env bin/vmd bin/sandbox-helper etc/fstab etc/passwd \
         etc/resolv.conf $libs; do
	grep -qxF "$f" <<<"$names" || why+=("no $f")
done
case_end "the archive holds /init, busybox and its applets, vmd, sandbox-helper, and the helper's libraries and loader"

mkdir "$tmp/root"
tail -c +513 "$clean/initrd.img" | (cd "$tmp/root" && cpio -idm --quiet --no-absolute-filenames)
cmp -s "$tmp/root/etc/modules" "$clean/cache/kernel/modules.order" ||
	why+=("etc/modules is not modules.order")
seen=" "
while read -r m; do
	f=$tmp/root/lib/modules/$m.ko
	[[ -f $f ]] || { why+=("no lib/modules/$m.ko"); continue; }
	for d in $(readelf -p .modinfo "$f" | sed -n 's/.*\]  depends=//p' | tr ',' ' '); do
		[[ $seen == *" ${d//-/_} "* ]] || why+=("$m comes before its dependency $d")
	done
	seen+="$m "
done <"$tmp/root/etc/modules"
for m in $(sed 's/#.*//' guest/modules.conf); do
	[[ $seen == *" $m "* ]] || why+=("$m of modules.conf is not loaded")
done
case_end "the archive loads the modules of modules.order, each after what it depends on"

run env SOURCE_DATE_EPOCH=1700000000 "$bi" --out "$tmp/again" --cache "$clean/cache" \
	--vmd tests/guest/fake-vmd --sandbox-helper /usr/bin/env
expect_status 0
cmp -s "$clean/initrd.img" "$tmp/again/initrd.img" || why+=("the two initrd.img differ")
cmp -s "$clean/vmlinuz" "$tmp/again/vmlinuz" || why+=("the two vmlinuz differ")
case_end "the same inputs give the same initrd.img"

run "$bi" --out "$tmp/bz" --cache "$clean/cache" --kernel-format bzimage \
	--vmd tests/guest/fake-vmd --sandbox-helper /usr/bin/env
expect_status 0
deb=$(ls "$clean"/cache/linux-image-*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './boot/vmlinuz-*' >"$tmp/debian-vmlinuz"
cmp -s "$tmp/bz/vmlinuz" "$tmp/debian-vmlinuz" || why+=("vmlinuz is not the package's bzImage")
case_end "--kernel-format bzimage writes Debian's bzImage unchanged"

finish
