# free-port.sh - sourced by the shell tests that need a TCP port of their own on 127.0.0.1.
# free_port prints one that nothing uses in any state (listening, connected, TIME-WAIT),
# taken below the kernel's ephemeral range, so that no outgoing connection made after
# the choice can land on it before the test binds it.
free_port() {
	local lo p
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
	((lo > 20000)) || lo=61000
	while :; do
		if ((lo == 61000)); then p=$((61000 + RANDOM % 4000)); else p=$((20000 + RANDOM % (lo - 20000))); fi
		[[ -z $(ss -Htan "sport = :$p") ]] && { echo "$p"; return; }
	done
}
