#!/usr/bin/env bash
# fuzz.sh - a bounded libFuzzer run of the vmd frame parser (build/fuzz/fuzz_frame), as TAP.
#
# Seeds one valid frame of every request and reply type into $BUILD/fuzz/corpus-frame
# (kept between runs), fuzzes for FUZZ_SECONDS (default 60) with the protocol's field
# names as a dictionary, and reports the number of runs. A crash, leak, timeout or
# broken property fails the case and leaves the input in $BUILD/fuzz/.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
seconds=${FUZZ_SECONDS:-60}
corpus=$B/fuzz/corpus-frame
mkdir -p "$corpus"

# seed NAME TYPE JSON: one frame, [type][u32 little-endian length][json]
seed() {
	local n=${#3} len
	len=$(printf '\\x%02x\\x%02x\\x%02x\\x00' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)))
	printf "\\x$2$len%s" "$3" >"$corpus/seed-$1"
}
seed spawn 01 '{"id":1,"command":"ls","args":["-l"],"cwd":"/tmp","env":{"A":"1"},"uid":1000,'\
'"gid":1000,"pty":{"rows":24,"cols":80},"network":true,"raw":false}'
seed stdin 02 '{"id":2,"handle":"0123456789abcdef0123456789abcdef","data":"aGVsbG8K"}'
seed kill 03 '{"id":3,"handle":"0123456789abcdef0123456789abcdef","signal":9}'
seed resize 04 '{"id":4,"handle":"h","rows":40,"cols":120}'
seed mount 05 '{"id":5,"tag":"t","mount_point":"/mnt"}'
seed is_running 0b '{"id":"s","handle":"h"}'
seed close_stdin 0d '{"id":6,"handle":"h"}'
seed ping f0 '{}'
seed spawned 81 '{"id":1,"pid":42,"handle":"h"}'
seed stdout 82 '{"id":1,"handle":"h","data":"AP8="}'
seed exit 84 '{"id":1,"handle":"h","code":137,"signal":9}'
seed error 85 '{"id":null,"code":-32600,"message":"m."}'
seed running 88 '{"id":1,"handle":"h","running":true,"pid":7}'

echo "1..1"
log=$B/fuzz/fuzz_frame.log
dict=$PWD/tests/vmd/frame.dict
if (cd "$B/fuzz" && ./fuzz_frame -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=4096 -dict="$dict" corpus-frame) >"$log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
	echo "ok 1 - the frame parser survives $seconds s of libFuzzer (${runs:-no count})"
else
	echo "not ok 1 - the frame parser survives $seconds s of libFuzzer"
	grep -E 'ERROR|SUMMARY|Test unit written|deadly' "$log" | head -n 5 | sed 's/^/# /'
	exit 1
fi
