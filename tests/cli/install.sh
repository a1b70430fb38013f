#!/usr/bin/env bash
# install.sh - make install and make uninstall into a staging root, on a finished build.
#
# make test has built `all` already, so the install copies files and relinks nothing.
# The staging root holds the images and the guest too (about 80 MB), for a moment.
#
# Plan
#   1  make install DESTDIR=... PREFIX=/usr succeeds and rebuilds none of the programs
#   2  the manual pages land in share/man/man1 and man8, mode 644, as written
#   3  man -l renders each installed page without a warning
#   4  the installed programs print the version of the tree, qemu-boot without the tree
#   5  make uninstall removes every file make install put there
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
plan 5

[[ $B == /* ]] || B=$PWD/$B
dest=$tmp/root
source "$root/tests/programs.sh"
bins=(imgtool sizecheck vmctl)
# A make of its own: not a job of the make that may be running this suite.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$root" BUILD="$B" "$@"; }

before=$(stat -c '%n %Y' "${bins[@]/#/$B/}" "$B/guest/vmd" "$B/sandbox-helper")
run mk install DESTDIR="$dest" PREFIX=/usr
expect_status 0
[[ $(stat -c '%n %Y' "${bins[@]/#/$B/}" "$B/guest/vmd" "$B/sandbox-helper") == "$before" ]] ||
	why+=("make install rebuilt a program")
for b in "${bins[@]}" qemu-boot; do
	[[ -x $dest/usr/bin/$b ]] || why+=("no $dest/usr/bin/$b")
done
case_end "make install DESTDIR=... PREFIX=/usr succeeds and rebuilds none of the programs"

for p in "${programs[@]}"; do
	f=${page[$p]}
	got=$dest/usr/share/man/man${f##*.}/${f##*/}
	if [[ ! -f $got ]]; then
		why+=("no $got")
		continue
	fi
	[[ $(stat -c %a "$got") == 644 ]] || why+=("$got is mode $(stat -c %a "$got"), not 644")
	cmp -s "$root/$f" "$got" || why+=("$got differs from $f")
done
case_end "the manual pages land in share/man/man1 and man8, mode 644, as written"

for p in "${programs[@]}"; do
	f=${page[$p]} name=${f##*/} page=$dest/usr/share/man/man${f##*.}/${f##*/}
	title=$(tr '[:lower:]' '[:upper:]' <<<"${name%.*}")
	run env MANWIDTH=80 man --warnings -P cat -l "$page"
	expect_status 0
	expect_err ""
	[[ $(head -n 1 <<<"$out") == "$title(${f##*.})"*"$title(${f##*.})" ]] ||
		why+=("$name renders with the first line: $(head -n 1 <<<"$out")")
	[[ $out == *$'\nNAME\n'*$'\nSYNOPSIS\n'* ]] || why+=("$name renders without NAME and SYNOPSIS")
done
case_end "man -l renders each installed page without a warning"

for b in "${bins[@]}"; do
	run "$B/$b" --version
	want=$out
	run "$dest/usr/bin/$b" --version
	expect_status 0
	expect_out "$want"
done
run "$root/host/qemu-boot" --version
want=$out
cp "$dest/usr/bin/qemu-boot" "$tmp/qemu-boot"
run "$tmp/qemu-boot" --version
expect_status 0
expect_out "$want"
[[ $want == "qemu-boot $(<"$root/VERSION")"* ]] || why+=("qemu-boot's version is $want")
case_end "the installed programs print the version of the tree, qemu-boot without the tree"

run mk uninstall DESTDIR="$dest" PREFIX=/usr
expect_status 0
left=$(find "$dest" ! -type d)
[[ -z $left ]] || why+=("left after make uninstall: $left")
case_end "make uninstall removes every file make install put there"

finish
