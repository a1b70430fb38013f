#!/usr/bin/env bash
# hostile.sh - vmctl against a vmd gone hostile: no VM, a stand-in (hostile-vmd.c)
# that vmctl finds through a state file as it would a sandbox, and that answers with
# escape sequences, paths that lead elsewhere, endless or stalled data, oversized and
# malformed frames. Each case checks vmctl's exact words, its exit status and what it
# left on disk. VMCTL picks the binary (default $BUILD/vmctl; tests/run also runs the
# suite on $BUILD/asan/vmctl, where the memory bounds are not measured).
#
# Plan
#   1  exec: vmd's refusal of a spawn is printed with its control characters escaped
#   2  exec: the command's own stdout and stderr stay raw; vmd's warning is escaped
#   3  install, session and cp print vmd's error sentence escaped
#   4  install: an answer that names another path, or one with a control character, is refused
#   5  session create: a home that is not a plain absolute path is refused
#   6  cp download: names in vmd's answer are not followed; only LOCAL is written
#   7  cp download: endless data stops at --max-size; no file is left and an old LOCAL is kept
#   8  cp download to stdout: endless data stops at --max-size after exactly that many bytes
#   9  cp download: a stall mid-transfer ends at --idle-timeout with one sentence, no file left
#  10  cp upload: a vmd that stops reading ends at --idle-timeout with one sentence
#  11  install and session: a vmd that never answers ends at --idle-timeout
#  12  a frame whose header claims 4 GiB is refused as it arrives, in little memory
#  13  a message longer than its frame's length field is refused as it arrives
#  14  a 16 MiB reply of tiny JSON values is refused before it is parsed, in little memory
#  15  malformed replies: bad JSON, wrong types, missing fields, unknown types: one sentence each
#  16  a vmd that closes mid-download or mid-exec: one sentence, no file left
#  17  bad --max-size and --idle-timeout values exit 2 with the usage line
#  18  cp download: a reader of stdout slower than --idle-timeout is not the sandbox's silence
source "$(dirname "$0")/../tap.sh"
plan 18
B=${BUILD:-build}
vmctl=${VMCTL:-$B/vmctl}
fakevmd=$B/tests/hostile-vmd
T="timeout -k 5 30"
for f in "$vmctl" "$fakevmd"; do
	[[ -x $f ]] || { echo "Bail out! $f is missing; build it first (make test builds it)."; exit 1; }
done
# Memory is measured only on the plain build: ASan's shadow memory dwarfs it.
measure=true
[[ $vmctl == */asan/* ]] && measure=false
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR"
state=$XDG_RUNTIME_DIR/vmctl
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# fake SCENARIO [ARG]...: start the stand-in; its port in P. fake_end stops it.
F=''
fake() {
	rm -f "$tmp/port"
	"$fakevmd" "$state" "$@" >"$tmp/port" &
	F=$!
	for _ in $(seq 100); do
		[[ -s $tmp/port ]] && break
		sleep 0.02
	done
	P=$(cat "$tmp/port")
}
fake_end() {
	[[ -n $F ]] && kill "$F" 2>/dev/null && wait "$F" 2>/dev/null
	rm -f "$state/$P.json"
	F=''
}
trap 'fake_end; rm -rf "$tmp"' EXIT
# peak KB: the peak resident set of the last `measured` command, in KiB.
measured() { /usr/bin/time -f %M -o "$tmp/rss" "$@"; }
peak() { tail -n 1 "$tmp/rss"; }
expect_peak_below() {
	$measure || return 0
	[[ $(peak) -lt $1 ]] || why+=("peak RSS $(peak) KiB, bound $1 KiB")
}
# the files in a folder, hidden ones too, as one line
listing() { (cd "$1" && find . -mindepth 1 -printf '%P ' | tr ' ' '\n' | sort | tr '\n' ' '); }

# the guest's text with an OSC title change, a bell, colours and a forged line
evil='\u001b]0;owned\u0007\u001b[31mred\r\nvmctl: forged'
shown='\x1b]0;owned\x07\x1b[31mred\r\nvmctl: forged'
err_frame() { echo "{\"id\":${2:-1},\"code\":-32602,\"message\":\"$1\"}"; }

# --- 1-3: vmd's words ----------------------------------------------------------------
fake reply 85 "$(err_frame "$evil")"
run $T "$vmctl" exec "$P" -- true
expect_status 1
expect_out ""
expect_err "vmctl: cannot run true in the sandbox: $shown"
fake_end
case_end "exec: vmd's refusal of a spawn is printed with its control characters escaped"

handle=0123456789abcdef0123456789abcdef
fake reply 81 "{\"id\":1,\"handle\":\"$handle\",\"pid\":7}" \
	82 "{\"id\":1,\"handle\":\"$handle\",\"data\":\"$(printf 'out\033[1m\r\n' | base64)\"}" \
	83 "{\"id\":1,\"handle\":\"$handle\",\"data\":\"$(printf 'err\a' | base64)\"}" \
	85 "$(err_frame "$evil" 2)" \
	84 "{\"id\":1,\"handle\":\"$handle\",\"code\":3}"
run $T "$vmctl" exec "$P" -- true </dev/null
expect_status 3
[[ $(od -An -c "$tmp/out" | tr -s ' ') == " o u t 033 [ 1 m \r \n" ]] ||
	why+=("stdout: $(od -An -c "$tmp/out")")
expect_err "err"$'\a'"vmctl: the sandbox said: $shown"
fake_end
case_end "exec: the command's own stdout and stderr stay raw; vmd's warning is escaped"

fake reply 85 "$(err_frame "$evil")"
run $T "$vmctl" install "$P" /bin/true
expect_status 1
expect_err "vmctl: $shown"
run $T "$vmctl" session create "$P" 1001 ann
expect_status 1
expect_err "vmctl: $shown"
run $T "$vmctl" session destroy "$P" 1001
expect_status 1
expect_err "vmctl: $shown"
mkdir "$tmp/dl"
run $T "$vmctl" cp "$P:notes.txt" "$tmp/dl/notes.txt"
expect_status 1
expect_err "vmctl: $shown"
echo hi >"$tmp/up"
run $T "$vmctl" cp "$tmp/up" "$P:notes.txt"
expect_status 1
expect_err "vmctl: $shown"
expect_out ""
[[ -z $(listing "$tmp/dl") ]] || why+=("left in the folder: $(listing "$tmp/dl")")
fake_end
case_end "install, session and cp print vmd's error sentence escaped"

# --- 4-6: paths and names from vmd -----------------------------------------------------
for path in '../escape' '/etc/x' '/usr/local/bin/../../b' 'true' '/usr/local//bin/true' \
            '/usr/local/bin\u001b[2J/true' '/usr/local/bin/true/..'; do
	fake reply 86 "{\"id\":1,\"path\":\"$path\"}"
	run $T "$vmctl" install "$P" /bin/true
	expect_status 1
	expect_out ""
	expect_err "vmctl: the sandbox says it installed true as \"${path//\\u001b/\\x1b}\", which is not a plain absolute path to true; vmctl does not trust it."
	fake_end
done
fake reply 86 '{"id":1,"path":"/usr/local/bin/true"}'
run $T "$vmctl" install "$P" /bin/true
expect_status 0
expect_out "/usr/local/bin/true"
fake_end
case_end "install: an answer that names another path, or one with a control character, is refused"

for home in '../escape' '/home/../etc' 'home/ann' '/home/a\u202eb'; do
	fake reply 86 "{\"id\":1,\"uid\":1001,\"username\":\"ann\",\"home\":\"$home\"}"
	run $T "$vmctl" session create "$P" 1001 ann
	expect_status 1
	expect_out ""
	expect_err "vmctl: the sandbox gave the new user's home as \"$home\", which is not a plain absolute path; vmctl does not trust it."
	fake_end
done
# a NUL would cut the string to a plain /home/a
fake reply 86 '{"id":1,"uid":1001,"username":"ann","home":"/home/a\u0000/../../etc"}'
run $T "$vmctl" session create "$P" 1001 ann
expect_status 1
expect_out ""
expect_err 'vmctl: the sandbox sent a message vmctl cannot read: a string in the reply holds a NUL character (\u0000), which no name, path or message can contain.'
fake_end
case_end "session create: a home that is not a plain absolute path is refused"

mkdir -p "$tmp/dl6/in"
for name in '../escape' '/etc/x' 'a/../../b' '..' 'x\u001by' '/proc/self/cwd/x'; do
	fake reply 87 "{\"id\":1,\"data\":\"$(printf 'data' | base64)\"}" \
		86 "{\"id\":1,\"size\":4,\"path\":\"$name\",\"home\":\"$name\"}"
	run $T "$vmctl" cp "$P:notes.txt" "$tmp/dl6/in/"
	expect_status 0
	expect_err ""
	fake_end
done
[[ $(listing "$tmp/dl6") == "in in/notes.txt " ]] || why+=("written: $(listing "$tmp/dl6")")
[[ $(cat "$tmp/dl6/in/notes.txt") == data ]] || why+=("in/notes.txt holds $(cat "$tmp/dl6/in/notes.txt")")
fake reply 87 "{\"id\":1,\"data\":\"$(printf 'data' | base64)\"}" 86 '{"id":1,"size":4}'
run $T "$vmctl" cp "$P:a/.." "$tmp/dl6/in/"
expect_status 1
expect_err "vmctl: a/.. names no file to call the copy in $tmp/dl6/in/ by; give LOCAL as a file's path."
fake_end
case_end "cp download: names in vmd's answer are not followed; only LOCAL is written"

# --- 7-11: bounds ------------------------------------------------------------------------
mkdir "$tmp/dl7"
echo old >"$tmp/dl7/keep"
fake endless
run $T "$vmctl" cp --max-size 3M "$P:big" "$tmp/dl7/new"
expect_status 1
expect_err "vmctl: the sandbox sent more of big than --max-size allows (3145728 bytes); nothing was written."
run $T "$vmctl" cp --max-size 2097152 "$P:big" "$tmp/dl7/keep"
expect_status 1
expect_err "vmctl: the sandbox sent more of big than --max-size allows (2097152 bytes); nothing was written."
[[ $(listing "$tmp/dl7") == "keep " ]] || why+=("left: $(listing "$tmp/dl7")")
[[ $(cat "$tmp/dl7/keep") == old ]] || why+=("keep now holds $(head -c 20 "$tmp/dl7/keep")")
fake_end
case_end "cp download: endless data stops at --max-size; no file is left and an old LOCAL is kept"

fake endless
$T "$vmctl" cp --max-size 3M "$P:big" - 2>"$tmp/err" | wc -c >"$tmp/count"
status=${PIPESTATUS[0]}
err=$(cat "$tmp/err")
expect_status 1
expect_err "vmctl: the sandbox sent more of big than --max-size allows (3145728 bytes); the output stops there."
[[ $(cat "$tmp/count") -eq 3145728 ]] || why+=("$(cat "$tmp/count") bytes on stdout, expected 3145728")
fake_end
case_end "cp download to stdout: endless data stops at --max-size after exactly that many bytes"

mkdir "$tmp/dl9"
fake reply 87 "{\"id\":1,\"data\":\"$(printf 'part' | base64)\"}"
t0=$(date +%s%N)
run $T "$vmctl" cp --idle-timeout 1 "$P:big" "$tmp/dl9/big"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_status 1
expect_err "vmctl: the sandbox on port $P sent nothing for 1 s while downloading big; vmctl gave up (--idle-timeout sets how long it waits)."
[[ $ms -ge 900 && $ms -le 5000 ]] || why+=("gave up after $ms ms, expected about 1000")
[[ -z $(listing "$tmp/dl9") ]] || why+=("left: $(listing "$tmp/dl9")")
fake_end
case_end "cp download: a stall mid-transfer ends at --idle-timeout with one sentence, no file left"

# more than the socket buffers and vmctl's 4 MiB queue hold, so the upload must wait
head -c $((64 << 20)) /dev/zero >"$tmp/big"
fake reply 86 "{\"id\":1,\"handle\":\"$handle\"}" deaf
run $T "$vmctl" cp --idle-timeout 1 "$tmp/big" "$P:big"
expect_status 1
expect_err "vmctl: the sandbox on port $P sent nothing for 1 s while uploading to big; vmctl gave up (--idle-timeout sets how long it waits)."
fake_end
rm -f "$tmp/big"
case_end "cp upload: a vmd that stops reading ends at --idle-timeout with one sentence"

fake reply
run $T "$vmctl" install --idle-timeout 1 "$P" /bin/true
expect_status 1
expect_err "vmctl: the sandbox on port $P sent nothing for 1 s while installing true; vmctl gave up (--idle-timeout sets how long it waits)."
run $T "$vmctl" session create --idle-timeout 1 "$P" 1001
expect_status 1
expect_err "vmctl: the sandbox on port $P sent nothing for 1 s while creating the session of uid 1001; vmctl gave up (--idle-timeout sets how long it waits)."
run $T "$vmctl" session destroy "$P" 1001 --idle-timeout 1
expect_status 1
expect_err "vmctl: the sandbox on port $P sent nothing for 1 s while ending the session of uid 1001; vmctl gave up (--idle-timeout sets how long it waits)."
fake_end
case_end "install and session: a vmd that never answers ends at --idle-timeout"

# --- 12-16: frames -------------------------------------------------------------------------
fake huge-header
run measured $T "$vmctl" cp "$P:big" "$tmp/dl9/big"
expect_status 1
expect_err "vmctl: the sandbox on port $P sent a message vmctl cannot read: the frame's payload length 4294967295 is over the limit of 16777216 bytes."
expect_peak_below 16384
run $T "$vmctl" exec "$P" -- true
expect_status 1
expect_err "vmctl: the sandbox on port $P sent a message vmctl cannot read: the frame's payload length 4294967295 is over the limit of 16777216 bytes."
fake_end
case_end "a frame whose header claims 4 GiB is refused as it arrives, in little memory"

fake long-message
run measured $T "$vmctl" cp "$P:big" "$tmp/dl9/big"
expect_status 1
[[ $err =~ ^"vmctl: the sandbox on port $P sent a message vmctl cannot read: the frame's length field says 100 bytes but "[0-9]+" follow."$ ]] ||
	why+=("stderr: $err")
expect_peak_below 16384
fake_end
case_end "a message longer than its frame's length field is refused as it arrives"

fake bomb
run measured $T "$vmctl" exec "$P" -- true
expect_status 1
expect_err "vmctl: the sandbox sent a message vmctl cannot read: the reply holds more than 1024 JSON values; no reply of the protocol has that many."
# the message itself is 16 MiB; parsed, its 8 million values would take over 600 MiB
expect_peak_below 65536
fake_end
case_end "a 16 MiB reply of tiny JSON values is refused before it is parsed, in little memory"

while IFS='|' read -r type json said; do
	fake reply "$type" "$json"
	run $T "$vmctl" cp "$P:x" "$tmp/dl9/x"
	expect_status 1
	expect_err "vmctl: the sandbox sent a message vmctl cannot read: $said"
	fake_end
done <<'EOF'
87|{"id":1,"data":|the payload is not valid JSON (at byte 14).
87|[1,2]|the payload is an array, not a JSON object.
85|{"id":1,"code":"bad","message":"x"}|error: the field "code" must be an integer from -2147483648 to 2147483647.
85|{"id":1,"code":-1}|error needs the field "message".
87|{"id":1,"data":"not base64!"}|data: the field "data" is not valid base64.
87|{"data":"aGk="}|data needs the field "id".
99|{"id":1}|message type 0x99 is not a reply.
01|{"id":1,"command":"sh"}|message type 0x01 is not a reply.
86|{"id":1,"size":"big"}|ok: the field "size" must be an integer from 0 to 9007199254740992.
EOF
fake reply 81 '{"id":1,"handle":"h","pid":0}'
run $T "$vmctl" exec "$P" -- true
expect_status 1
expect_err 'vmctl: the sandbox sent a message vmctl cannot read: spawned: the field "pid" must be an integer from 1 to 4194304.'
fake_end
case_end "malformed replies: bad JSON, wrong types, missing fields, unknown types: one sentence each"

fake reply 87 "{\"id\":1,\"data\":\"$(printf 'part' | base64)\"}" close
run $T "$vmctl" cp "$P:big" "$tmp/dl9/big"
expect_status 1
expect_err "vmctl: the sandbox on port $P closed the connection."
[[ -z $(listing "$tmp/dl9") ]] || why+=("left: $(listing "$tmp/dl9")")
fake_end
fake reply 81 "{\"id\":1,\"handle\":\"$handle\",\"pid\":7}" \
	82 "{\"id\":1,\"handle\":\"$handle\",\"data\":\"$(printf 'half' | base64)\"}" close
run $T "$vmctl" exec "$P" -- true </dev/null
expect_status 1
expect_out "half"
expect_err "vmctl: the sandbox on port $P closed the connection."
fake_end
case_end "a vmd that closes mid-download or mid-exec: one sentence, no file left"

usage_cp='usage: vmctl cp [--uid N] [--idle-timeout S] LOCAL PORT:PATH | [--uid N] [--idle-timeout S] [--max-size SIZE] PORT:PATH LOCAL'
for bad in 0 1X 2P 12345678901234567 '' 1.5G -1; do
	run $T "$vmctl" cp --max-size "$bad" 4000:x y
	expect_status 2
	expect_err "vmctl: --max-size wants a size from 1 byte to 1P: a whole number of bytes, or one with K, M, G, T or P after it, not \"$bad\".
$usage_cp"
done
run $T "$vmctl" cp --max-size 1G x 4000:y
expect_status 2
expect_err "vmctl: --max-size bounds a download; an upload sends LOCAL whole.
$usage_cp"
run $T "$vmctl" cp --idle-timeout 0 4000:x y
expect_status 2
expect_err "vmctl: --idle-timeout wants a whole number from 1 to 86400, not \"0\".
$usage_cp"
run $T "$vmctl" install --idle-timeout 5 --idle-timeout 5 4000 /bin/true
expect_status 2
expect_err "vmctl: --idle-timeout is given twice; give it once.
usage: vmctl install [--idle-timeout S] PORT FILE [NAME]"
run $T "$vmctl" session create 4000 1001 --max-size 1M
expect_status 2
expect_err "vmctl: session create takes no option --max-size.
usage: vmctl session create [--idle-timeout S] PORT UID [NAME] | destroy [--delete-home] [--idle-timeout S] PORT UID"
case_end "bad --max-size and --idle-timeout values exit 2 with the usage line"

# 4 messages of 64 KiB: more than a pipe holds, so vmctl waits on the reader for 2 s
chunk=$(head -c 65536 /dev/zero | base64 -w 0)
fake reply 87 "{\"id\":1,\"data\":\"$chunk\"}" 87 "{\"id\":1,\"data\":\"$chunk\"}" \
	87 "{\"id\":1,\"data\":\"$chunk\"}" 87 "{\"id\":1,\"data\":\"$chunk\"}" \
	86 '{"id":1,"size":262144}'
$T "$vmctl" cp --idle-timeout 1 "$P:x" - 2>"$tmp/err" | { sleep 2; wc -c; } >"$tmp/count"
status=${PIPESTATUS[0]}
err=$(cat "$tmp/err")
expect_status 0
expect_err ""
[[ $(cat "$tmp/count") -eq 262144 ]] || why+=("$(cat "$tmp/count") bytes on stdout, expected 262144")
fake_end
case_end "cp download: a reader of stdout slower than --idle-timeout is not the sandbox's silence"
finish
