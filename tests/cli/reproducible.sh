#!/usr/bin/env bash
# reproducible.sh - every file in SHA256SUMS comes out the same when the images are
# built again: in another folder, by another user, with another umask, time zone and
# locale, with the clock three days ahead, and with every source file's time changed.
#
# The second build is of a copy of this working tree (its .git included, so that it
# finds the same SOURCE_DATE_EPOCH by itself), made now, minutes after `make all`
# made $BUILD; it runs as nobody under env -i and faketime, and is compared with
# $BUILD byte for byte.
#
# Plan
#   1  the second build succeeds as another user in another folder
#   2  its SHA256SUMS equals the first build's
#   3  every file SHA256SUMS lists is byte for byte the first build's
#   4  the ISO records no builder: its files are root's, world-readable, dated SOURCE_DATE_EPOCH
#   5  make dist there gives the release make dist gives here, file for file
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
plan 5

# Another folder, deeper than this one and readable by nobody.
chmod 755 "$tmp"
copy=$tmp/another/folder/clientapi
mkdir -p "$copy"
tar -C . --exclude=./build --exclude="./$B" --exclude='./.git/worktrees' -cf - . | tar -C "$copy" -xf -
# Every source file (and the commit's objects) a few hours younger than here.
find "$copy" -exec touch -h -d '+3 hours' {} +
chown -R 65534:65534 "$tmp/another"

# The same date the first build used, when the caller fixed one; else the copy finds it.
epoch=()
[[ -z ${SOURCE_DATE_EPOCH:-} ]] || epoch=(SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH")
# Another user: nobody when the tests run as root (they do in CI).
other=()
[[ $(id -u) -ne 0 ]] || other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
run env -i PATH=/usr/bin:/bin HOME=/nonexistent TZ=Pacific/Kiritimati LC_ALL=C "${epoch[@]}" \
	"${other[@]}" bash -c 'umask 077 && cd "$1" && faketime "+3 days" make -s BUILD=out out/SHA256SUMS &&
		exec faketime "+3 days" make -s BUILD=out DIST=dist-out dist >/dev/null' \
	_ "$copy" </dev/null
expect_status 0
[[ -f $copy/out/SHA256SUMS ]] || why+=("no out/SHA256SUMS; make said:" "$(tail -n 5 <<<"$err")")
[[ ${#other[@]} -eq 0 || $(stat -c %u "$copy/out/SHA256SUMS" 2>/dev/null) == 65534 ]] ||
	why+=("out/SHA256SUMS is not nobody's")
case_end "the second build succeeds as another user in another folder"

cmp -s "$B/SHA256SUMS" "$copy/out/SHA256SUMS" ||
	why+=("$(diff "$B/SHA256SUMS" "$copy/out/SHA256SUMS" 2>&1)")
case_end "its SHA256SUMS equals the first build's"

listed=$(awk '{ print $2 }' "$B/SHA256SUMS")
[[ -n $listed ]] || why+=("$B/SHA256SUMS lists no file")
for f in $listed; do
	d=$(cmp "$B/$f" "$copy/out/$f" 2>&1) || why+=("$f: $d")
done
case_end "every file SHA256SUMS lists is byte for byte the first build's"

# xorriso's own view of the ISO: owner, group, mode and date of each file. Its dates
# are shown as "Mon DD HH:MM" for the last six months: the listing runs a day after
# the build's date (the one the Makefile recorded beside the images) so that the
# format is always that one.
epoch_now=$(<"$B/gen/source-date-epoch")
date=$(TZ=UTC LC_ALL=C date -d "@$epoch_now" '+%b %e %H:%M')
want=$(printf '%s\n' \
	"dr-xr-xr-x    1 0        0               0 $date '/'" \
	"-r--r--r--    1 0        0             256 $date '/boot.bin'" \
	"er--r--r--    1 0        0            2048 $date '/boot.cat'")
run env TZ=UTC LC_ALL=C faketime "@$((epoch_now + 86400))" \
	xorriso -indev "$B/boot.iso" -find / -exec lsdl
[[ $out == "$want" ]] || why+=("xorriso lists:" "$out" "expected:" "$want")
case_end "the ISO records no builder: its files are root's, world-readable, dated SOURCE_DATE_EPOCH"

# The release from this build (a sub-make of make test passes its flags on: not here).
run env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s BUILD="$B" DIST="$tmp/dist-here" dist
expect_status 0
c=$(diff "$tmp/dist-here/SHA256SUMS" "$copy/dist-out/SHA256SUMS" 2>&1) || why+=("$c")
for f in $(awk '{ print $2 }' "$tmp/dist-here/SHA256SUMS" 2>/dev/null); do
	cmp -s "$tmp/dist-here/$f" "$copy/dist-out/$f" || why+=("$f differs")
done
case_end "make dist there gives the release make dist gives here, file for file"
finish
