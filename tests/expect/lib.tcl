# lib.tcl - what the Expect suites share: TAP output, exact reads from COM1, booting
# QEMU through host/qemu-boot (or Bochs), and the power button over QMP.
#
# Every byte counts: the serial line is read in raw mode with NULs kept, and a case
# passes only when the bytes received equal the bytes expected, no more and no less.

set stty_init "raw -echo"
remove_nulls -d 0
encoding system iso8859-1
log_user 0
set ::top [file normalize [file join [file dirname [info script]] .. ..]]
set ::case_no 0
set ::failures 0
set ::label ""
set ::emulator_output ""

# --- TAP -------------------------------------------------------------------------

proc plan {n} { puts "1..$n" }

proc ok {name} {
	incr ::case_no
	puts "ok $::case_no - $::label$name"
}

proc not_ok {name why} {
	incr ::case_no
	incr ::failures
	puts "not ok $::case_no - $::label$name"
	foreach line [split $why "\n"] { puts "# $line" }
}

proc skip {name reason} {
	incr ::case_no
	puts "ok $::case_no - $::label$name # SKIP $reason"
}

# Run body; it returns "" on success or a sentence saying what went wrong.
proc case {name body} {
	if {[catch {uplevel 1 $body} why]} {
		set why "error: $why"
	}
	if {$why eq ""} { ok $name } else { not_ok $name $why }
}

# Bytes shown for people: printable ASCII as is, everything else as \xNN.
proc show {s} {
	set out ""
	foreach c [split $s ""] {
		scan $c %c code
		if {$code >= 0x20 && $code < 0x7F && $c ne "\\"} {
			append out $c
		} else {
			append out [format {\x%02X} $code]
		}
	}
	return "\"$out\""
}

# --- the serial line ----------------------------------------------------------------

# Read from COM1 until `want` has arrived or `secs` pass, then compare exactly.
# Returns "" when equal, else a sentence with both sides.
proc read_exact {want {secs 5}} {
	set got ""
	set deadline [expr {[clock milliseconds] + $secs * 1000}]
	while {[string length $got] < [string length $want]} {
		set left [expr {$deadline - [clock milliseconds]}]
		if {$left <= 0} break
		set timeout [expr {($left + 999) / 1000}]
		set more ""
		expect {
			-i $::serial -re {.+} { set more $expect_out(0,string) }
			-i $::serial timeout {}
			-i $::serial eof {}
		}
		if {$more eq ""} break
		append got $more
	}
	if {$got eq $want} { return "" }
	return "expected [show $want]\nreceived [show $got][why_short]"
}

# After a short read: if the emulator has died, a paragraph saying so, else "".
proc why_short {} {
	set gone [emulator_gone]
	if {$gone eq ""} { return "" }
	return "\n$gone"
}

# Nothing more may arrive within `ms` milliseconds.
proc read_nothing {{ms 300}} {
	set timeout 1
	set got ""
	set deadline [expr {[clock milliseconds] + $ms}]
	while {[clock milliseconds] < $deadline} {
		expect {
			-i $::serial -re {.+} { append got $expect_out(0,string) }
			-i $::serial timeout { break }
			-i $::serial eof { break }
		}
	}
	if {$got eq ""} { return "" }
	return "expected nothing more, received [show $got][why_short]"
}

proc send_serial {bytes} { send -i $::serial -- $bytes }

# --- QEMU -----------------------------------------------------------------------------

# Boot image under QEMU on `machine`; COM1 and QMP on Unix sockets in a private folder.
# Sets ::qemu (QEMU's spawn id), ::serial (COM1) and ::qmp_path.
proc boot_qemu {image machine {format ""}} {
	set ::emulator QEMU
	set ::emulator_output ""
	set ::dir [exec mktemp -d /tmp/clientapi-test.XXXXXX]
	set ::qmp_path $::dir/qmp
	set args [list --machine $machine --serial unix:$::dir/com1 --qmp $::qmp_path --snapshot]
	if {$format ne ""} { lappend args --format $format }
	spawn -noecho $::top/host/qemu-boot {*}$args $image
	set ::qemu $spawn_id
	set ::qemu_pid [exp_pid -i $::qemu]
	# QEMU creates the socket and waits for us before it starts the machine.
	wait_for_emulator "its serial socket" 10 { file exists $::dir/com1 }
	spawn -noecho socat STDIO UNIX-CONNECT:$::dir/com1
	set ::serial $spawn_id
}

# Boot image under Bochs (rombios: enters with IF=0 and the UART unprogrammed), COM1 on
# a TCP port on 127.0.0.1. Bochs has no power button. Sets ::qemu (Bochs's spawn id)
# and ::serial. The image is copied: Bochs leaves a lock file beside the image it uses.
# extra_config: bochsrc lines added at the end (a later line overrides an earlier one).
#
# Nothing of the host's sound or display set-up may matter: Bochs 2.7 starts a sound
# mixer thread even with the speaker off, and on a machine without a sound card its
# ALSA driver made it abort ("buffer overflow detected"), so every sound driver is the
# dummy one. The display is rfb (Debian builds no "nogui"), which needs no X server
# and, with timeout=0, waits for no viewer.
proc boot_bochs {image {extra_config ""}} {
	set ::emulator Bochs
	set ::emulator_output ""
	set ::dir [exec mktemp -d /tmp/clientapi-test.XXXXXX]
	set ext [file extension $image]
	file copy $image $::dir/disk$ext
	# A free port: bind to port 0, read the one the kernel chose, let it go.
	set probe [socket -server {} -myaddr 127.0.0.1 0]
	set port [lindex [fconfigure $probe -sockname] 2]
	close $probe
	if {$ext eq ".iso"} {
		set drive "ata0-slave: type=cdrom, path=$::dir/disk.iso, status=inserted\nboot: cdrom"
	} else {
		# 1 MiB = 4 cylinders x 16 heads x 32 sectors of 512 bytes.
		set drive "ata0-master: type=disk, path=$::dir/disk$ext, mode=flat, cylinders=4, heads=16, spt=32\nboot: disk"
	}
	set f [open $::dir/bochsrc w]
	puts $f [string map [list @DRIVE@ [subst -nocommands -novariables $drive] @PORT@ $port] {megs: 16
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
@DRIVE@
display_library: rfb, options="timeout=0"
com1: enabled=1, mode=socket-server, dev=127.0.0.1:@PORT@
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
log: -
panic: action=fatal
error: action=report
info: action=ignore
clock: sync=none}]
	# Lines the caller adds (the harness test breaks Bochs this way): a later line wins.
	if {$extra_config ne ""} { puts $f $extra_config }
	close $f
	# The debugger build stops at a prompt before running: its rc file says continue.
	set f [open $::dir/dbg.rc w]
	puts $f c
	close $f
	# A private HOME and no DISPLAY: no bochsrc or X server of this machine's is used.
	spawn -noecho env -u DISPLAY HOME=$::dir bochs -q -f $::dir/bochsrc -rc $::dir/dbg.rc
	set ::qemu $spawn_id
	set ::qemu_pid [exp_pid -i $::qemu]
	# Bochs serves one client on COM1, so a trial connection would take its place:
	# wait until the kernel lists the port as listening instead.
	wait_for_emulator "COM1 on 127.0.0.1:$port" 30 [list tcp_listening $port]
	spawn -noecho socat STDIO TCP:127.0.0.1:$port
	set ::serial $spawn_id
}

# Is a TCP socket on 127.0.0.1:port listening? (From /proc/net/tcp: local address
# 0100007F:PORT, state 0A.)
proc tcp_listening {port} {
	set want [format {0100007F:%04X} $port]
	set f [open /proc/net/tcp]
	set table [read $f]
	close $f
	foreach line [lrange [split $table "\n"] 1 end] {
		if {[lindex $line 1] eq $want && [lindex $line 3] eq "0A"} { return 1 }
	}
	return 0
}

# Poll `ready` (a Tcl command that returns a boolean) every 50 ms until it holds,
# while the emulator (::qemu) runs. Raises an error that says which emulator died, how,
# and what it printed last, or that `what` never came within `secs` seconds.
proc wait_for_emulator {what secs ready} {
	set deadline [expr {[clock milliseconds] + $secs * 1000}]
	while {![uplevel 1 $ready]} {
		set gone [emulator_gone]
		if {$gone ne ""} { error $gone }
		if {[clock milliseconds] > $deadline} {
			error "$::emulator ran $secs s without $what appearing; it printed:\n[last_lines]"
		}
		after 50
	}
}

# The emulator's last lines of output (at most 15), read now.
proc last_lines {} {
	append ::emulator_output [drain $::qemu]
	set lines [split [string trim $::emulator_output] "\n"]
	set text [join [lrange $lines end-14 end] "\n"]
	if {$text eq ""} { return "(nothing)" }
	return $text
}

# "" while the emulator runs; once it has exited, a sentence with its exit status and
# its last lines of output.
proc emulator_gone {} {
	if {![info exists ::qemu] || $::qemu eq ""} { return "" }
	# Running while /proc has it and it is not a zombie ("pid (comm) Z ...").
	if {![catch {open /proc/$::qemu_pid/stat} f]} {
		set stat [read $f]
		close $f
		if {![string match "*) Z *" $stat]} { return "" }
	}
	set text [last_lines]
	set w [wait -i $::qemu]
	set ::qemu ""
	if {[lindex $w 4] eq "CHILDKILLED"} {
		set how "was killed by [lindex $w 5]"
	} else {
		set how "exited with status [lindex $w 3]"
	}
	return "$::emulator $how before the test was done; its last lines:\n$text"
}

# Whatever a spawned process has printed so far (for error messages).
proc drain {id} {
	set timeout 0
	set text ""
	expect -i $id -re {.+} { set text $expect_out(0,string) } timeout {} eof {}
	return [string trim $text]
}

# Press the power button through QMP. Returns "" when QEMU reported a guest-initiated
# shutdown and exited with status 0 within `secs` seconds of the press.
proc power_button {{secs 5}} {
	spawn -noecho socat STDIO UNIX-CONNECT:$::qmp_path
	set qmp $spawn_id
	set timeout 10
	expect -i $qmp -re {"QMP"} {} timeout { return "QMP did not greet us." } eof { return "QMP closed." }
	send -i $qmp "{\"execute\":\"qmp_capabilities\"}\n"
	expect -i $qmp -re {"return"} {} timeout { return "QMP did not accept qmp_capabilities." }
	set t0 [clock milliseconds]
	send -i $qmp "{\"execute\":\"system_powerdown\"}\n"
	set timeout $secs
	set reason ""
	expect {
		-i $qmp -re {"event": "SHUTDOWN"[^\n]*"reason": "([a-z-]+)"} {
			set reason $expect_out(1,string)
		}
		-i $qmp -re {[^\n]*\n} { exp_continue }
		-i $qmp timeout {}
		-i $qmp eof {}
	}
	set left [expr {max(1, $secs - ([clock milliseconds] - $t0) / 1000)}]
	set timeout $left
	set exited 0
	expect -i $::qemu eof { set exited 1 } -re {.+} { exp_continue } timeout {}
	set ms [expr {[clock milliseconds] - $t0}]
	catch {close -i $qmp}
	catch {wait -i $qmp}
	if {!$exited} {
		return "QEMU still ran $secs s after the power button (shutdown reason: \"$reason\")."
	}
	set status [lindex [wait -i $::qemu] 3]
	set ::qemu ""
	if {$reason ne "guest-shutdown"} {
		return "QEMU exited, but not by the guest's S5 (shutdown reason: \"$reason\")."
	}
	if {$status != 0} { return "QEMU exited with status $status." }
	if {$ms > $secs * 1000} { return "QEMU took $ms ms to exit; the limit is $secs s." }
	return ""
}

# Stop whatever is still running and remove the sockets.
proc cleanup {} {
	foreach id [list $::serial [expr {[info exists ::qemu] ? $::qemu : ""}]] {
		if {$id eq ""} continue
		catch {exec kill [exp_pid -i $id]}
		catch {close -i $id}
		catch {wait -i $id}
	}
	if {[info exists ::dir]} { file delete -force $::dir }
}
