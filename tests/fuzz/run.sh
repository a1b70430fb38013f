#!/usr/bin/env bash
# run.sh - a bounded libFuzzer run of each imgtool reader, as TAP.
#
# Each reader starts from a corpus seeded with the containers `make all` wrote (and
# keeps what it finds in $BUILD/fuzz/corpus-FORMAT between runs); a crash, leak,
# timeout or sanitizer report fails the case and leaves the input in $BUILD/fuzz/.
set -uo pipefail
B=${BUILD:-build}
seconds=${FUZZ_SECONDS:-60}
formats=(raw vhd vdi vmdk qcow2)
echo "1..${#formats[@]}"
n=0 failures=0
for fmt in "${formats[@]}"; do
	n=$((n + 1))
	corpus=$B/fuzz/corpus-$fmt
	mkdir -p "$corpus"
	for seed in "$B"/boot.img "$B"/boot.$fmt; do
		[[ -f $seed ]] && cp "$seed" "$corpus/seed-${seed##*/}"
	done
	# The other subformats too, so every reader path starts with a valid file.
	case $fmt in
	vhd)   variants=("subformat=dynamic,block_size=512K") ;;
	vmdk)  variants=("subformat=monolithicSparse" "subformat=streamOptimized") ;;
	qcow2) variants=("compat=0.10,cluster_size=512" "cluster_size=512") ;;
	*)     variants=() ;;
	esac
	for v in "${variants[@]}"; do
		"$B/imgtool" convert -O "$fmt" -o "$v" "$B/boot.img" "$corpus/seed-${v//[=,]/-}" ||
			echo "# cannot write the seed $fmt -o $v"
	done
	log=$B/fuzz/fuzz_$fmt.log
	if (cd "$B/fuzz" && "./fuzz_$fmt" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
		-max_len=1100000 "corpus-$fmt") >"$log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
		echo "ok $n - the $fmt reader survives $seconds s of libFuzzer (${runs:-no count})"
	else
		echo "not ok $n - the $fmt reader survives $seconds s of libFuzzer"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5 | sed 's/^/# /'
		failures=$((failures + 1))
	fi
done
exit $((failures > 0))
