#!/usr/bin/env bash
# sizecheck.sh - the real sizecheck on the real build: the report, and bad builds.
#
# Plan
#   1  size prints one line, N / 256 bytes (M free), with N + M = 256
#   2  check passes on the build and reports the budget per routine
#   3  check refuses an image without the boot signature
#   4  check refuses an image that does not begin with boot.bin
#   5  check refuses a boot.bin that is not 256 bytes
#   6  check refuses a map written for another program
#   7  a missing operand is a usage error (status 2)
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
sc=$B/sizecheck
plan 7

run "$sc" size "$B/boot.bin" "$B/boot.map"
expect_status 0
expect_out_match '^([0-9]+) / 256 bytes \(([0-9]+) free\)$'
[[ $out =~ ^([0-9]+)\ /\ 256\ bytes\ \(([0-9]+)\ free\)$ ]] &&
	(( BASH_REMATCH[1] + BASH_REMATCH[2] == 256 )) || why+=("used + free is not 256: $out")
size_line=$out
case_end "size prints one line, N / 256 bytes (M free), with N + M = 256"

run "$sc" check "$B/boot.bin" "$B/boot.map" "$B/boot.img"
expect_status 0
[[ $(head -n 1 <<<"$out") == "$size_line" ]] || why+=("first line is not the size line")
for routine in start pm_probe main receive power_off putc isr; do
	grep -qE "^  $routine +[0-9]+ +[0-9.]+%$" <<<"$out" || why+=("no budget row for $routine")
done
grep -qE '^  \(free\) +[0-9]+ ' <<<"$out" || why+=("no (free) row")
[[ $(tail -n 1 <<<"$out") == "$B/boot.img: 1048576 bytes, 0x55AA at 510, begins with $B/boot.bin" ]] ||
	why+=("last line: $(tail -n 1 <<<"$out")")
case_end "check passes on the build and reports the budget per routine"

cp "$B/boot.img" "$tmp/nosig.img"
printf '\0\0' | dd of="$tmp/nosig.img" bs=1 seek=510 conv=notrunc status=none
run "$sc" check "$B/boot.bin" "$B/boot.map" "$tmp/nosig.img"
expect_status 1
expect_out ""
expect_err "sizecheck: $tmp/nosig.img has 0x00 0x00 at offset 510, not the boot signature 0x55 0xAA."
case_end "check refuses an image without the boot signature"

cp "$B/boot.img" "$tmp/other.img"
orig=$(od -An -tu1 -j100 -N1 "$B/boot.bin")
flipped=$((orig ^ 0xFF))
printf "\\$(printf %03o "$flipped")" | dd of="$tmp/other.img" bs=1 seek=100 conv=notrunc status=none
run "$sc" check "$B/boot.bin" "$B/boot.map" "$tmp/other.img"
expect_status 1
expect_err "$(printf 'sizecheck: %s does not begin with %s: the first difference is at offset 100 (0x%02X, not 0x%02X).' \
	"$tmp/other.img" "$B/boot.bin" "$flipped" "$orig")"
case_end "check refuses an image that does not begin with boot.bin"

{ cat "$B/boot.bin"; head -c 44 /dev/zero; } >"$tmp/boot.bin"
run "$sc" check "$tmp/boot.bin" "$B/boot.map" "$B/boot.img"
expect_status 1
expect_err "sizecheck: $tmp/boot.bin is 300 bytes; a boot program must be exactly 256."
case_end "check refuses a boot.bin that is not 256 bytes"

printf '\n- NASM Map file ---\n\nSource file:  bench/reference.asm\nOutput file:  build/bench/reference.bin\n' >"$tmp/other.map"
sed -n '/^-- Program origin/,$p' "$B/boot.map" >>"$tmp/other.map"
run "$sc" check "$B/boot.bin" "$tmp/other.map" "$B/boot.img"
expect_status 1
expect_err "sizecheck: $tmp/other.map was written for build/bench/reference.bin, not $B/boot.bin; the map is from another program."
case_end "check refuses a map written for another program"

run "$sc" check "$B/boot.bin" "$B/boot.map"
expect_status 2
expect_err "sizecheck: check needs 3 operands (BOOT.BIN MAP IMAGE); IMAGE is missing.
usage: sizecheck check [--budget N] BOOT.BIN MAP IMAGE"
case_end "a missing operand is a usage error (status 2)"

finish
