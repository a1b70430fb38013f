#!/usr/bin/env bash
# run.sh - a bounded libFuzzer run of each imgtool reader and of vmctl's side of the
# protocol (fuzz_vmctl), as TAP.
#
# Each reader starts from a corpus seeded with the containers `make all` wrote (and
# keeps what it finds in $BUILD/fuzz/corpus-FORMAT between runs); fuzz_vmctl from
# replies a hostile vmd might send (corpus-vmctl). A crash, leak, timeout, broken
# property or sanitizer report fails the case and leaves the input in $BUILD/fuzz/.
set -uo pipefail
B=${BUILD:-build}
seconds=${FUZZ_SECONDS:-60}
formats=(raw vhd vhdx vdi vmdk qcow2)
echo "1..$((${#formats[@]} + 1))"
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
	vhdx)  variants=("subformat=fixed") ;;
	vmdk)  variants=("subformat=monolithicSparse" "subformat=streamOptimized") ;;
	qcow2) variants=("compat=0.10,cluster_size=512" "cluster_size=512" "-c cluster_size=512"
	                 "-c compression_type=zstd,cluster_size=512") ;;
	*)     variants=() ;;
	esac
	for v in "${variants[@]}"; do
		# "-c OPTIONS": compressed, with those -o options
		c=()
		[[ $v != "-c "* ]] || c=(-c)
		o=${v#-c }
		"$B/imgtool" convert "${c[@]}" -O "$fmt" -o "$o" "$B/boot.img" \
			"$corpus/seed-${v//[=, ]/-}" || echo "# cannot write the seed $fmt $v"
	done
	log=$B/fuzz/fuzz_$fmt.log
	# A VHDX's block table and metadata lie past its first 3 MiB: its inputs may be
	# as long as the 5 MiB boot disk, the others' as long as the 1 MiB one.
	max_len=1100000
	[[ $fmt == vhdx ]] && max_len=5300000
	if (cd "$B/fuzz" && "./fuzz_$fmt" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
		-max_len="$max_len" "corpus-$fmt") >"$log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
		echo "ok $n - the $fmt reader survives $seconds s of libFuzzer (${runs:-no count})"
	else
		echo "not ok $n - the $fmt reader survives $seconds s of libFuzzer"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5 | sed 's/^/# /'
		failures=$((failures + 1))
	fi
done

# fuzz_vmctl: one byte (the size of a short output buffer), then a frame from vmd:
# [type][u32 little-endian length][json]. The seeds carry escapes, odd paths and
# malformed UTF-8, the inputs vmctl must show safely.
n=$((n + 1))
corpus=$B/fuzz/corpus-vmctl
mkdir -p "$corpus"
vseed() {
	local LC_ALL=C len
	len=${#3}
	len=$(printf '\\x%02x\\x%02x\\x%02x\\x00' $((len & 255)) $((len >> 8 & 255)) \
		$((len >> 16 & 255)))
	printf "\\x07\\x$2$len%s" "$3" >"$corpus/seed-$1"
}
vseed error 85 '{"id":1,"code":-32602,"message":"\u001b]0;t\u0007\u001b[31m\r\nx \u202e \u00e9"}'
vseed raw-error 85 $'{"id":1,"code":-1,"message":"a\x1b[2J\xc2\x9b\xe2\x80\xaeb"}'
vseed install 86 '{"id":1,"path":"/usr/local/bin/prog"}'
vseed escape 86 '{"id":1,"path":"/usr/local/bin/../../etc/x"}'
vseed session 86 '{"id":1,"uid":1001,"username":"ann","home":"/home/ann"}'
vseed nul 86 '{"id":1,"home":"/home/a\u0000/x"}'
vseed data 87 '{"id":1,"data":"G1sySgc="}'
vseed stdout 82 '{"id":1,"handle":"0123456789abcdef0123456789abcdef","data":"aGkK"}'
vseed spawned 81 '{"id":1,"handle":"h","pid":7}'
vseed values 85 '{"id":1,"code":1,"message":"m","v":[0,[0,{"a":0}],"\\"",0]}'
log=$B/fuzz/fuzz_vmctl.log
dict=$PWD/tests/vmd/frame.dict
if (cd "$B/fuzz" && ./fuzz_vmctl -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=8192 -dict="$dict" corpus-vmctl) >"$log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
	echo "ok $n - vmctl's side of the protocol survives $seconds s of libFuzzer (${runs:-no count})"
else
	echo "not ok $n - vmctl's side of the protocol survives $seconds s of libFuzzer"
	grep -E 'ERROR|SUMMARY|Test unit written|deadly' "$log" | head -n 5 | sed 's/^/# /'
	failures=$((failures + 1))
fi
exit $((failures > 0))
