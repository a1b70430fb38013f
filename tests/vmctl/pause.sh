#!/usr/bin/env bash
# pause.sh - vmctl pause, resume and fork on real VMs (QEMU; TCG where there is no KVM).
# One sandbox is started for the suite; a counter loop runs in it, detached from any
# connection, and files of random bytes sit in its home and in the guest's /tmp.
# Paused sandboxes go to a state home of the suite's own (XDG_STATE_HOME), so none of
# the user's is seen. Every sandbox the suite made, running or paused, is stopped on
# exit whatever happened. Every vmctl call runs under timeout.
#
# Plan
#   1  vmctl start prints the port; the counter counts, the files are written
#   2  pause: the sandbox's QEMU and state file go, list shows it paused, its folder
#      holds disk.qcow2, meta.json, ram and stream, 0700 and 0600
#   3  resume: back on the same port, the counter goes on from where it was, the
#      files in the home and /tmp are byte-identical, the clock is right, the same
#      secret opens it
#   4  resume onto a port now taken prints the new port, and the sandbox runs there
#   5  reload_identity on a running sandbox: ok, the secret unchanged, the connection
#      still served
#   6  fork -n 3: three ports, each sandbox with the parent's files and counter, its own
#      secret, hostname and random numbers; the parent's secret opens none; a
#      connection open to the parent at the fork has no process in the forks; the
#      parent runs on
#   7  stop of a paused sandbox removes its folder
#   8  resume of a damaged stream, then of a lost memory file, then of a lost disk:
#      one sentence each, the paused files kept; with them put back, the resume works
#   9  two pauses at once of one sandbox: one wins, the other says so
#  10  pause, resume and fork of what is not there, and bad -n: one sentence each; a
#      pause that fails half way (no launcher for its second QEMU) leaves the sandbox
#      running and nothing saved
#  11  a sandbox started --cold (plain RAM, the balloon) pauses and resumes too: its
#      folder has no RAM file, its whole memory is in the stream
#  12  stop of every sandbox left leaves no state, no paused folder and no lock file (a
#      fork, and a pause or resume refused, leave none either)
source "$(dirname "$0")/lib.sh"
plan 12
vm_suite_ready pause.sh
need_wstool

export XDG_STATE_HOME=$tmp/state
paused=$XDG_STATE_HOME/vmctl
usage_fork='usage: vmctl fork PORT [-n N]'
ALL=()		# every port the suite made: stopped on exit, running or paused
squatter=''
pause_cleanup() {
	[[ -n $squatter ]] && kill "$squatter" 2>/dev/null
	for p in "${ALL[@]}"; do
		$T 30 "$vmctl" stop "$p" >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap pause_cleanup EXIT
exp() { $T 60 "$vmctl" exec "$1" --raw -- "${@:2}"; }
count() { exp "$1" cat /tmp/count; }
# The files' SHA-256 sums, as the guest reads them.
sums() { exp "$1" sh -c 'sha256sum /home/sandbox/data /tmp/data | cut -d" " -f1'; }
list_row() { $T 30 "$vmctl" list | awk -v p="$1" '$1 == p'; }

# --- 1: start, the counter, the files ----------------------------------------------------
vm_start_case "vmctl start prints the port; the counter counts, the files are written"
ALL+=("$P")
first_secret=$secret
run exp "$P" sh -c 'setsid sh -c "i=0; while :; do i=\$((i + 1)); echo \$i > /tmp/count; sleep 0.1; done" </dev/null >/dev/null 2>&1 &
head -c 1048576 /dev/urandom > /tmp/data
head -c 1048576 /dev/urandom > /home/sandbox/data; chown 1000:1000 /home/sandbox/data; sync'
expect_status 0
sleep 0.5
c0=$(count "$P")
[[ $c0 =~ ^[0-9]+$ && $c0 -ge 1 ]] || why+=("the counter reads \"$c0\"")
want_sums=$(sums "$P")
[[ $(wc -l <<<"$want_sums") -eq 2 ]] || why+=("sha256sum in the guest said: $want_sums")
case_end "vmctl start prints the port; the counter counts, the files are written"

# --- 2: pause ------------------------------------------------------------------------------
before=$(count "$P")
pid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$state/$P.json")
run $T 60 "$vmctl" pause "$P"
expect_status 0
expect_out ""
expect_err ""
# gone, or a zombie that the pid 1 of this machine has not reaped yet
[[ ! -e /proc/$pid || $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]] ||
	why+=("QEMU (pid $pid) still runs")
left=$(find "$state" -maxdepth 1 -name "$P.*" -printf '%f ')
[[ -z $left ]] || why+=("left in $state: $left")
row=$(list_row "$P")
[[ $row == "$(printf '%-6s %-8s %-8s %-7s %-5s %s' "$P" - paused 128 1 -)" ]] ||
	why+=("vmctl list: $(printf '%q' "$row")")
files=$(cd "$paused/$P" 2>/dev/null && stat -c '%a %n' * | sort | tr '\n' ' ')
[[ $files == "600 disk.qcow2 600 meta.json 600 ram 600 stream " ]] || why+=("the paused folder holds: $files")
[[ $(stat -c %a "$paused" "$paused/$P" | tr '\n' ' ') == "700 700 " ]] ||
	why+=("modes: $(stat -c '%a %n' "$paused" "$paused/$P" | tr '\n' ' ')")
case_end "pause: the sandbox's QEMU and state file go, list shows it paused, its folder holds its disk, meta.json, ram and stream"

# --- 3: resume ---------------------------------------------------------------------------
sleep 2	# the counter must not count this
run $T 60 "$vmctl" resume "$P"
expect_status 0
expect_out "$P"
expect_err ""
c1=$(count "$P")
[[ $c1 =~ ^[0-9]+$ && $c1 -ge $before && $c1 -le $((before + 10)) ]] ||
	why+=("the counter read $before before the pause and $c1 after the resume")
sleep 0.5
c2=$(count "$P")
[[ $c2 =~ ^[0-9]+$ && $c2 -gt $c1 ]] || why+=("the counter stopped: $c1, then $c2")
got=$(sums "$P")
[[ $got == "$want_sums" ]] || why+=("sums after the resume: $got" "before: $want_sums")
guest=$(exp "$P" date +%s)
host=$(date +%s)
[[ $guest =~ ^[0-9]+$ && $((host - guest)) -le 2 && $((guest - host)) -le 2 ]] ||
	why+=("the guest's clock says $guest, the host's $host")
[[ $(vm_secret "$P") == "$first_secret" ]] || why+=("the secret changed")
run $T 30 "$wstool" prove "$P" "$first_secret"
expect_out "status 101
vmd proved the secret: yes
ping: pong
after: open"
[[ ! -e $paused/$P ]] || why+=("the paused folder is still there")
case_end "resume: the same port, the counter goes on, the files are byte-identical, the clock is right, the same secret opens it"

# --- 4: resume onto a taken port ------------------------------------------------------------
run $T 60 "$vmctl" pause "$P"
expect_status 0
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("bound", flush=True); time.sleep(120)' "$P" >"$tmp/squat" &
squatter=$!
for _ in $(seq 50); do [[ -s $tmp/squat ]] && break; sleep 0.1; done
run $T 60 "$vmctl" resume "$P"
expect_status 0
expect_err ""
if [[ $out =~ ^[0-9]+$ && $out != "$P" ]]; then
	ALL+=("$out")
	P=$out
	c3=$(count "$P")
	[[ $c3 =~ ^[0-9]+$ && $c3 -ge $c2 ]] || why+=("the counter read $c2, then $c3 on the new port")
	[[ $(sums "$P") == "$want_sums" ]] || why+=("the files changed")
else
	why+=("resume printed $(printf '%q' "$out"), not a new port")
fi
kill "$squatter"
squatter=''
case_end "resume onto a port now taken prints the new port, and the sandbox runs there"

# --- 5: reload_identity with the same identity -------------------------------------------------
secret=$(vm_secret "$P")
run talk <<'EOF'
reload_identity {"id":1}
ping {"id":2}
EOF
expect_out 'ok {"id":1}
pong {"id":2}'
expect_status 0
case_end "reload_identity on a running sandbox: ok, the secret unchanged, the connection still served"

# --- 6: fork -n 3 -------------------------------------------------------------------------
$T 120 "$vmctl" exec "$P" --raw -- sleep 300 >/dev/null 2>&1 &
holder=$!
sleep 1
run $T 120 "$vmctl" fork "$P" -n 3
expect_status 0
expect_err ""
mapfile -t kids <<<"$out"
ALL+=("${kids[@]}")
parent_count=$(count "$P")
if [[ ${#kids[@]} -ne 3 ]]; then
	why+=("fork printed $(printf '%q' "$out")")
else
	secrets=() hosts=() uuids=()
	for k in "${kids[@]}"; do
		[[ $k =~ ^[0-9]+$ && $k != "$P" ]] || why+=("fork printed the port \"$k\"")
		[[ $(sums "$k") == "$want_sums" ]] || why+=("the files of $k differ")
		ck=$(count "$k")
		[[ $ck =~ ^[0-9]+$ && $ck -ge $c2 ]] || why+=("the counter of $k reads \"$ck\"")
		sleep 0.3
		ck2=$(count "$k")
		[[ $ck2 =~ ^[0-9]+$ && $ck2 -gt $ck ]] || why+=("the counter of $k stopped at $ck")
		hosts+=("$(exp "$k" hostname)")
		[[ ${hosts[-1]} == "sandbox-$k" ]] || why+=("$k's hostname is ${hosts[-1]}")
		uuids+=("$(exp "$k" cat /proc/sys/kernel/random/uuid)")
		secrets+=("$(vm_secret "$k")")
		[[ ${secrets[-1]} != "$secret" ]] || why+=("$k has the parent's secret")
		run $T 30 "$wstool" prove "$k" "$secret"
		expect_out "status 101
vmd proved the secret: no
ping: error -32004 auth: the proof does not match; this client does not hold the VM's secret.
after: closed"
		held=$(exp "$k" sh -c 'ps -o args | grep -c "^sleep 300"')
		[[ $held == 0 ]] || why+=("$k runs the parent's connection's sleep 300 ($held)")
	done
	[[ $(printf '%s\n' "${secrets[@]}" | sort -u | wc -l) -eq 3 ]] || why+=("the secrets are not distinct")
	[[ $(printf '%s\n' "${hosts[@]}" | sort -u | wc -l) -eq 3 ]] || why+=("hostnames: ${hosts[*]}")
	[[ $(printf '%s\n' "${uuids[@]}" | sort -u | wc -l) -eq 3 ]] || why+=("uuids: ${uuids[*]}")
fi
sleep 0.3
pc=$(count "$P")
[[ $pc =~ ^[0-9]+$ && $pc -gt $parent_count ]] || why+=("the parent's counter: $parent_count, then $pc")
held=$(exp "$P" sh -c 'ps -o args | grep -c "^sleep 300"')
[[ $held == 1 ]] || why+=("the parent's sleep 300 is gone ($held)")
kill "$holder" 2>/dev/null
case_end "fork -n 3: three sandboxes with the parent's files and counter, their own secrets, hostnames and random numbers; the parent runs on"

# --- 7: stop of a paused one ---------------------------------------------------------------
k=${kids[0]:-0}
run $T 60 "$vmctl" pause "$k"
expect_status 0
[[ -d $paused/$k ]] || why+=("no paused folder for $k")
run $T 60 "$vmctl" stop "$k"
expect_status 0
expect_err ""
[[ ! -e $paused/$k ]] || why+=("the paused folder of $k is still there")
[[ -z $(list_row "$k") ]] || why+=("list still shows $k")
run $T 60 "$vmctl" resume "$k"
expect_err "vmctl: no paused sandbox on port $k (vmctl list shows them)."
case_end "stop of a paused sandbox removes its folder"

# --- 8: damaged files -------------------------------------------------------------------------
k=${kids[1]:-0}
run $T 60 "$vmctl" pause "$k"
expect_status 0
cp "$paused/$k/stream" "$tmp/stream"
truncate -s 4096 "$paused/$k/stream"
before_files=$(cd "$paused/$k" && stat -c '%n %s' * | tr '\n' ' ')
run $T 60 "$vmctl" resume "$k"
expect_status 1
[[ $err =~ ^"vmctl: cannot resume the sandbox of port $k (it stays paused): QEMU refused the saved sandbox: ".+$ &&
	$(wc -l <<<"$err") -eq 1 ]] || why+=("stderr: $(printf '%q' "$err")")
after_files=$(cd "$paused/$k" && stat -c '%n %s' * | tr '\n' ' ')
[[ $after_files == "$before_files" ]] || why+=("the paused files changed: $after_files")
left=$(find "$state" -maxdepth 1 -name "*.json" -newer "$tmp/stream" -printf '%f ')
[[ -z $left ]] || why+=("state files made and left: $left")
cp "$tmp/stream" "$paused/$k/stream"
mv "$paused/$k/ram" "$tmp/ram"
run $T 60 "$vmctl" resume "$k"
expect_status 1
expect_err "vmctl: the paused sandbox of port $k has lost its memory $paused/$k/ram; it cannot be resumed (vmctl stop $k removes it)."
mv "$tmp/ram" "$paused/$k/ram"
mv "$paused/$k/disk.qcow2" "$tmp/disk.qcow2"
run $T 60 "$vmctl" resume "$k"
expect_status 1
expect_err "vmctl: the paused sandbox of port $k has lost its home disk $paused/$k/disk.qcow2; it cannot be resumed (vmctl stop $k removes it)."
mv "$tmp/disk.qcow2" "$paused/$k/disk.qcow2"
run $T 60 "$vmctl" resume "$k"
expect_status 0
expect_out_match "^[0-9]+$"
[[ $out == "$k" ]] || ALL+=("$out")
[[ $(sums "$out") == "$want_sums" ]] || why+=("the files of the resumed $out differ")
case_end "resume of a damaged stream, a lost memory file, a lost disk: one sentence each, the paused files kept; put back, it resumes"

# --- 9: two pauses at once ------------------------------------------------------------------
k=${kids[2]:-0}
$T 60 "$vmctl" pause "$k" >"$tmp/p1.out" 2>"$tmp/p1.err" &
a=$!
$T 60 "$vmctl" pause "$k" >"$tmp/p2.out" 2>"$tmp/p2.err" &
b=$!
wait "$a"; sa=$?
wait "$b"; sb=$?
errs=$(cat "$tmp/p1.err" "$tmp/p2.err")
[[ $((sa + sb)) -eq 1 ]] || why+=("exit statuses $sa and $sb")
[[ $errs == "vmctl: another vmctl is pausing, resuming, forking or stopping the sandbox of port $k right now; try again when it is done." ||
   $errs == "vmctl: the sandbox of port $k is paused already (vmctl resume $k brings it back)." ]] ||
	why+=("stderr: $(printf '%q' "$errs")")
[[ -f $paused/$k/meta.json ]] || why+=("no paused sandbox for $k")
case_end "two pauses at once of one sandbox: one wins, the other says so"

# --- 10: what is not there, bad -n ---------------------------------------------------------------
run $T 30 "$vmctl" resume 1
expect_status 1
expect_err "vmctl: no paused sandbox on port 1 (vmctl list shows them)."
run $T 30 "$vmctl" pause 1
expect_status 1
expect_err "vmctl: no sandbox on port 1 (vmctl list shows the running ones)."
run $T 30 "$vmctl" fork 1
expect_status 1
expect_err "vmctl: no sandbox on port 1 (vmctl list shows the running ones)."
run $T 30 "$vmctl" pause "$k"
expect_status 1
expect_err "vmctl: the sandbox of port $k is paused already (vmctl resume $k brings it back)."
c4=$(count "$P")
run env VMCTL_QEMU_BOOT=/nonexistent/qemu-boot $T 60 "$vmctl" pause "$P"
expect_status 1
expect_err "vmctl: cannot pause the sandbox of port $P, which goes on running: cannot run /nonexistent/qemu-boot: No such file or directory"
sleep 0.3
c5=$(count "$P")
[[ $c5 =~ ^[0-9]+$ && $c5 -gt $c4 ]] || why+=("after the failed pause the counter read $c4, then $c5")
[[ -e $state/$P.json && ! -e $paused/$P ]] || why+=("the failed pause left $(ls "$paused" | tr '\n' ' ')")
[[ -z $(find "$paused" -name ".$P.new.*") ]] || why+=("the failed pause left its temporary folder")
run $T 30 "$vmctl" fork "$P" -n 65
expect_status 2
expect_err "vmctl: -n wants a whole number from 1 to 64, not \"65\".
$usage_fork"
run $T 30 "$vmctl" fork "$P" -n
expect_status 2
expect_err "vmctl: -n needs a value.
$usage_fork"
case_end "pause, resume and fork of what is not there, and bad -n: one sentence each; a pause that fails half way leaves the sandbox running"

# --- 11: --cold ---------------------------------------------------------------------------
run $T 120 "$vmctl" start --cold
expect_status 0
cold=$out
if [[ $cold =~ ^[0-9]+$ ]]; then
	ALL+=("$cold")
	exp "$cold" sh -c 'echo cold > /tmp/mark'
	run $T 60 "$vmctl" pause "$cold"
	expect_status 0
	expect_err ""
	files=$(cd "$paused/$cold" 2>/dev/null && ls | tr '\n' ' ')
	[[ $files == "disk.qcow2 meta.json stream " ]] || why+=("the paused folder holds: $files")
	run $T 60 "$vmctl" resume "$cold"
	expect_status 0
	expect_out "$cold"
	expect_err ""
	run exp "$cold" cat /tmp/mark
	expect_out "cold"
else
	why+=("vmctl start --cold printed $(printf '%q' "$cold")")
fi
case_end "a sandbox started --cold pauses and resumes too, its whole memory in the stream"

# --- 12: stop everything ---------------------------------------------------------------------
for p in "${ALL[@]}"; do
	run $T 60 "$vmctl" stop "$p"
	[[ $status -eq 0 || $err == "vmctl: no sandbox on port $p (vmctl list shows the running ones)." ]] ||
		why+=("stop $p: $status $err")
	left=$(find "$state" -maxdepth 1 -name "$p.*" -printf '%f ')
	[[ -z $left ]] || why+=("left in $state: $left")
done
ALL=()
left=$(find "$paused" -mindepth 1 -maxdepth 1 -printf '%f ')
[[ -z $left ]] || why+=("left in $paused: $left")
P=''
case_end "stop of every sandbox left leaves no state, no paused folder and no lock file (a fork, and a pause or resume refused, leave none either)"
finish
