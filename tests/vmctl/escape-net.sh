#!/usr/bin/env bash
# escape-net.sh - hole 1 of issue 11 on real VMs: the guest, root included, reaches
# nothing off the VM but what vmctl start opened, and vmctl egress (the HTTP proxy on
# the host that --internet and --allow open) refuses the host and its loopback.
#
# Every network case aims at 10.0.2.2 (QEMU's name for this host), at the proxy at
# 10.0.2.100:3128, or at servers this suite starts on 127.0.0.1 and ::1; the proxy is
# never asked for an address off this machine. Each VM is started with a private
# /etc/resolv.conf (unshare -m) naming a fake DNS server of ours on a 127.x address,
# so that no query QEMU or vmctl egress makes leaves the machine and the suite sees
# each one. Private and link-local ranges are covered by tests/unit/test_vmctl_egress.c,
# which connects nowhere.
#
# Plan (VM A: no option; VM B: --internet; VM C: --allow 127.0.0.1:PORT)
#   1  vmctl start without --internet or --allow boots VM A
#   2  1a  VM A cannot reach an HTTP server on the host's 127.0.0.1 through 10.0.2.2,
#          and the server sees no connection
#   3  1b  a UDP datagram to 10.0.2.2 never reaches a listener on the host's 127.0.0.1
#   4  1c  DNS through 10.0.2.3 gets no answer, and the host's resolver no query
#   5  1d  IPv6 is off: fec0::2 (the host's ::1 before) is unreachable
#   6  1e  VM A's commands are told of no proxy
#   7  vmctl stop powers the VM off and leaves no state (VM A)
#   8  vmctl start --internet boots VM B
#   9  1f  VM B's commands, sandboxed and raw, are told of the proxy
#  10  1g  the proxy refuses 10.0.2.2, the host itself, and the server sees nothing
#  11  1h  the proxy refuses 127.0.0.1, the host's loopback, to a sandboxed command
#  12  1i  the proxy refuses the host's own address
#  13  1j  the proxy refuses names that resolve to loopback: localhost, and a DNS
#          answer that rebinds to 127.0.0.1 (the proxy resolved it on the host)
#  14  1k  a VM holds at most 64 connections through the proxy: the next gets 503
#  15  vmctl stop powers the VM off and leaves no state (VM B)
#  16  vmctl start --allow 127.0.0.1:PORT boots VM C
#  17  1l  a sandboxed command reads the server's page through the proxy, by GET and
#          by CONNECT
#  18  1m  the proxy refuses what the allow-list does not name: another port, a name
#          for the allowed address, 10.0.2.2
#  19  1n  without the proxy, VM C reaches the host no more than VM A
#  20  vmctl stop powers the VM off and leaves no state (VM C)
#  21  1o  bad --allow values are refused by vmctl start with one sentence and exit 2
#  22  1p  --internet with --allow, or twice, is refused with one sentence and exit 2
#  23  no VM is left running, and no egress process
source "$(dirname "$0")/lib.sh"
plan 23
vm_suite_ready escape-net.sh
for p in python3 unshare; do
	command -v "$p" >/dev/null || { echo "Bail out! escape-net.sh needs $p."; exit 1; }
done

usage_start='usage: vmctl start [IMAGE] [--kernel K] [--initrd I] [--share[-ro] HOST TAG]... [--memory MIB] [--cpus N] [--internet | --allow HOST[:PORT]...] [--disk SIZE] [--cold]'
proxy=http://10.0.2.100:3128
real_vmctl=$vmctl
pids=()
net_cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	vm_cleanup
}
trap net_cleanup EXIT

# --- the host's side: servers on loopback, a fake DNS ----------------------------------
# wait_for FILE: until FILE has a first line (a server's port, or "ready").
wait_for() { for _ in $(seq 100); do [[ -s $1 ]] && return 0; sleep 0.05; done; return 1; }
mkdir -p "$tmp/www"
echo "page of the host's loopback server" >"$tmp/www/index.html"
# serve_http ADDR NAME: an HTTP server on ADDR (any free port, in $tmp/NAME.port) for
# $tmp/www, each request line it gets in $tmp/NAME.log.
serve_http() {
	(cd "$tmp/www" && exec python3 -u -c '
import http.server, socket, sys
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        print(self.requestline, file=sys.stderr, flush=True)
s = S((sys.argv[1], 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()' "$1" >"$tmp/$2.port" 2>"$tmp/$2.log") &
	pids+=($!)
}
serve_http 127.0.0.1 http
serve_http ::1 http6
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    print(repr(s.recvfrom(2048)[0]), file=sys.stderr, flush=True)' >"$tmp/udp.port" 2>"$tmp/udp.log" &
pids+=($!)
dns=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
echo "nameserver $dns" >"$tmp/resolv.conf"
python3 -u "$here/fake-dns.py" "$dns" "$tmp/dns.log" 2>"$tmp/dns.err" &
pids+=($!)
for f in http.port http6.port udp.port dns.log; do
	wait_for "$tmp/$f" || { echo "Bail out! a test server did not start: $(cat "$tmp"/*.err 2>/dev/null)"; exit 1; }
done
hp=$(<"$tmp/http.port") hp6=$(<"$tmp/http6.port") up=$(<"$tmp/udp.port")

# host_get PORT [ADDR]: a request from the host itself, to prove a server answers.
host_get() {
	local reply
	exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1" || return 1
	printf 'GET /host-probe HTTP/1.0\r\n\r\n' >&3
	reply=$(cat <&3)
	exec 3<&-
	[[ $reply == "HTTP/1.0 404"* ]]
}
# requests LOG: the request lines a server logged, the host's own probes left out.
requests() { grep '^[A-Z]* /' "$1" | grep -v '^GET /host-probe ' || true; }
# refusal STATUS SENTENCE: the proxy's whole answer, carriage returns dropped.
refusal() {
	printf 'HTTP/1.1 %s\nContent-Type: text/plain\nContent-Length: %d\nConnection: close\n\n%s' \
		"$1" $((${#2} + 1)) "$2"
}
# ask REQUEST-LINE: what the proxy answers a raw request, from a sandboxed command.
ask() { ex -- sh -c "printf '%s\r\n\r\n' '$1' | nc 10.0.2.100 3128 | tr -d '\r'" </dev/null; }

# Each VM starts in a mount namespace of its own where /etc/resolv.conf names the fake
# DNS: QEMU, and every vmctl egress it runs, resolve through it.
cat >"$tmp/vmctl-ns" <<EOF
#!/usr/bin/env bash
[[ \$1 == start ]] || exec "$real_vmctl" "\$@"
exec unshare -m sh -c 'mount --bind "\$0" /etc/resolv.conf && exec "\$@"' \\
	"$tmp/resolv.conf" "$real_vmctl" "\$@"
EOF
chmod 755 "$tmp/vmctl-ns"
vmctl=$tmp/vmctl-ns

# --- VM A: no way out -------------------------------------------------------------------
vm_start_case "vmctl start without --internet or --allow boots VM A"
case_end "vmctl start without --internet or --allow boots VM A"

host_get "$hp" || why+=("the host cannot reach its own test server on 127.0.0.1:$hp")
run ex --raw -- wget -q -O- "http://10.0.2.2:$hp/index.html" </dev/null
expect_status 1
expect_out ""
expect_err "wget: can't connect to remote host (10.0.2.2): Connection refused"
[[ -z $(requests "$tmp/http.log") ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1a VM A cannot reach an HTTP server on the host's 127.0.0.1 through 10.0.2.2, and the server sees no connection"

echo host-probe >"/dev/udp/127.0.0.1/$up"
run ex --raw -- sh -c "echo guest-datagram >/tmp/d; timeout 3 tftp -p -l /tmp/d -r d 10.0.2.2 $up 2>/dev/null; echo \"tftp: \$?\"" </dev/null
expect_out "tftp: 143"
sleep 0.5
[[ $(<"$tmp/udp.log") == "b'host-probe\\n'" ]] ||
	why+=("the UDP listener got: $(printf '%q' "$(<"$tmp/udp.log")") (expected only the host's probe)")
case_end "1b a UDP datagram to 10.0.2.2 never reaches a listener on the host's 127.0.0.1"

run ex --raw -- nslookup probe-a.test 10.0.2.3 </dev/null
expect_status 1
expect_out ";; connection timed out; no servers could be reached"
grep -qx 'probe-a.test' "$tmp/dns.log" && why+=("the host's resolver was asked for probe-a.test")
case_end "1c DNS through 10.0.2.3 gets no answer, and the host's resolver no query"

host_get "$hp6" ::1 || why+=("the host cannot reach its own test server on [::1]:$hp6")
run ex --raw -- sh -c "ip -6 addr add fec0::15/64 dev eth0 && timeout 10 wget -q -O- 'http://[fec0::2]:$hp6/index.html'" </dev/null
expect_status 1
expect_out ""
expect_err "wget: can't connect to remote host: No route to host"
[[ -z $(requests "$tmp/http6.log") ]] || why+=("the ::1 server saw: $(requests "$tmp/http6.log")")
case_end "1d IPv6 is off: fec0::2 (the host's ::1 before) is unreachable"

run ex -- sh -c 'env | grep -i proxy; echo end' </dev/null
expect_out "end"
run ex --raw -- sh -c 'env | grep -i proxy; echo end' </dev/null
expect_out "end"
case_end "1e VM A's commands are told of no proxy"
vm_stop_case

# --- VM B: --internet --------------------------------------------------------------------
vm_start_case "vmctl start --internet boots VM B" --internet
case_end "vmctl start --internet boots VM B"

want_env="HTTPS_PROXY=$proxy
HTTP_PROXY=$proxy
http_proxy=$proxy
https_proxy=$proxy
no_proxy=localhost,127.0.0.1,::1"
run ex -- sh -c 'env | grep -i proxy | sort' </dev/null
expect_out "$want_env"
run ex --raw -- sh -c 'env | grep -i proxy | sort' </dev/null
expect_out "$want_env"
case_end "1f VM B's commands, sandboxed and raw, are told of the proxy"

run ask "CONNECT 10.0.2.2:$hp HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: 10.0.2.2 is the host itself; the sandbox may not reach it.")"
run ex -- wget -q -O- "http://10.0.2.2:$hp/index.html" </dev/null
expect_status 1
expect_err "wget: server returned error: HTTP/1.1 403 Forbidden"
[[ -z $(requests "$tmp/http.log") ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1g the proxy refuses 10.0.2.2, the host itself, and the server sees nothing"

run ask "GET http://127.0.0.1:$hp/index.html HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: 127.0.0.1 is the host's loopback; the sandbox may not reach it.")"
run ask "CONNECT [::1]:$hp6 HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: ::1 is the host's loopback; the sandbox may not reach it.")"
[[ -z $(requests "$tmp/http.log")$(requests "$tmp/http6.log") ]] ||
	why+=("the servers saw: $(requests "$tmp/http.log") $(requests "$tmp/http6.log")")
case_end "1h the proxy refuses 127.0.0.1, the host's loopback, to a sandboxed command"

hostip=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
if [[ -z $hostip ]]; then
	why+=("this host has no global IPv4 address to try")
else
	run ask "CONNECT $hostip:$hp HTTP/1.1"
	expect_out "$(refusal "403 Forbidden" "vmctl egress: $hostip is the host itself; the sandbox may not reach it.")"
fi
case_end "1i the proxy refuses the host's own address"

lo=$(getent ahosts localhost | awk '$2 == "STREAM" { print $1; exit }')
run ask "GET http://localhost:$hp/ HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: localhost resolves to $lo, the host's loopback; the sandbox may not reach it.")"
run ask "CONNECT rebind.test:$hp HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: rebind.test resolves to 127.0.0.1, the host's loopback; the sandbox may not reach it.")"
grep -qx 'rebind.test' "$tmp/dns.log" || why+=("the fake DNS was never asked for rebind.test: $(<"$tmp/dns.log")")
[[ -z $(requests "$tmp/http.log") ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1j the proxy refuses names that resolve to loopback: localhost, and a DNS answer that rebinds to 127.0.0.1"

# 64 connections that send nothing hold every place; each is a vmctl egress on the host.
run ex --raw -- sh -c 'for i in $(seq 64); do (sleep 8 | timeout 10 nc 10.0.2.100 3128 >/dev/null &); done
	while [ $(netstat -tn | grep -c "10.0.2.100:3128 *ESTABLISHED") -lt 64 ]; do sleep 0.2; done; sleep 1
	printf "CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n" | nc 10.0.2.100 3128 | tr -d "\r"' </dev/null
expect_out "$(refusal "503 Service Unavailable" "vmctl egress: this sandbox has 64 connections open through the proxy already; close one first.")"
held=$(pgrep -fc "/vmctl egress $P " || true)
[[ $held == 64 ]] || why+=("$held egress processes for port $P, expected 64 while the places are held")
case_end "1k a VM holds at most 64 connections through the proxy: the next gets 503"
vm_stop_case

# --- VM C: --allow 127.0.0.1:PORT ---------------------------------------------------------
vm_start_case "vmctl start --allow 127.0.0.1:PORT boots VM C" --allow "127.0.0.1:$hp"
case_end "vmctl start --allow 127.0.0.1:PORT boots VM C"

run ex -- wget -q -O- "http://127.0.0.1:$hp/index.html" </dev/null
expect_status 0
expect_out "page of the host's loopback server"
expect_err ""
run ex -- sh -c "printf 'CONNECT 127.0.0.1:$hp HTTP/1.1\r\n\r\nGET /index.html HTTP/1.0\r\n\r\n' | nc 10.0.2.100 3128 | tr -d '\r' | sed -n '1p;\$p'" </dev/null
expect_out "HTTP/1.1 200 Connection established
page of the host's loopback server"
[[ $(requests "$tmp/http.log") == "GET /index.html HTTP/1.1
GET /index.html HTTP/1.0" ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1l a sandboxed command reads the server's page through the proxy, by GET and by CONNECT"

: >"$tmp/http.log"
run ask "CONNECT 127.0.0.1:$up HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: 127.0.0.1:$up is not on this sandbox's allow-list (vmctl start --allow).")"
run ask "GET http://localhost:$hp/ HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: localhost:$hp is not on this sandbox's allow-list (vmctl start --allow).")"
run ask "CONNECT 10.0.2.2:$hp HTTP/1.1"
expect_out "$(refusal "403 Forbidden" "vmctl egress: 10.0.2.2:$hp is not on this sandbox's allow-list (vmctl start --allow).")"
[[ -z $(requests "$tmp/http.log") ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1m the proxy refuses what the allow-list does not name: another port, a name for the allowed address, 10.0.2.2"

run ex --raw -- wget -Y off -q -O- "http://10.0.2.2:$hp/index.html" </dev/null
expect_status 1
expect_err "wget: can't connect to remote host (10.0.2.2): Connection refused"
run ex --raw -- sh -c "timeout 3 nc 10.0.2.101 $hp </dev/null; echo \"nc: \$?\"" </dev/null
expect_out "nc: 143"
[[ -z $(requests "$tmp/http.log") ]] || why+=("the server saw: $(requests "$tmp/http.log")")
case_end "1n without the proxy, VM C reaches the host no more than VM A"
vm_stop_case

# --- the options --------------------------------------------------------------------------
vms() { find "$state" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }
before=$(vms)
for v in "" "host:0" "a b" "[::1" "x:65536" "http://x/" "*." "a..b"; do
	run $T 30 "$real_vmctl" start --allow "$v"
	expect_status 2
	expect_out ""
	expect_err "vmctl: --allow wants HOST[:PORT] (a host name, *.DOMAIN, an IPv4 address or [IPv6]) with a PORT from 1 to 65535, not \"$v\".
$usage_start"
done
run $T 30 "$real_vmctl" start --allow
expect_status 2
expect_err "vmctl: --allow needs a value.
$usage_start"
[[ $(vms) == "$before" ]] || why+=("a refused start left a state file")
case_end "1o bad --allow values are refused by vmctl start with one sentence and exit 2"

run $T 30 "$real_vmctl" start --internet --allow example.com
expect_status 2
expect_err "vmctl: --internet and --allow do not go together: --internet opens every public address, --allow only those it names.
$usage_start"
run $T 30 "$real_vmctl" start --internet --internet
expect_status 2
expect_err "vmctl: --internet is given twice; give it once.
$usage_start"
case_end "1p --internet with --allow, or twice, is refused with one sentence and exit 2"

[[ $(vms) == 0 || $(vms) == "$before" ]] || why+=("state files left: $(vms)")
left=$(pgrep -f "/vmctl egress " || true)
[[ -z $left ]] || why+=("egress processes left: $left")
case_end "no VM is left running, and no egress process"
finish
