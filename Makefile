# ClientAPI boot program: build, check, test, benchmark, run, install.
# `make help` lists the targets. Every setting below can be overridden on the command
# line, e.g. `make CC=clang BUILD=/tmp/out`.

# Everything made goes here; `make clean` removes it.
BUILD     ?= build
# Install root, and a staging root for packagers that is prepended to it.
PREFIX    ?= /usr/local
DESTDIR   ?=
# Manual pages go in its man1 and man8 (some systems keep them in $(PREFIX)/man).
MANDIR    ?= $(PREFIX)/share/man
NASM      ?= nasm
CC        ?= cc
CFLAGS    ?= -O2 -g
XORRISO   ?= xorriso
# QEMU machine type for the run targets (pc, q35, pc-i440fx-1.4, ...).
MACHINE   ?= pc
# The date in every image: the last commit's time, or the epoch outside a git checkout.
# safe.directory: a checkout owned by another user must give the same date, not 0.
SOURCE_DATE_EPOCH ?= $(shell git -c safe.directory='*' log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
# A file whose time changes only when that date does: the images that carry the date
# depend on it, so a new commit remakes them and a build's bytes never depend on when
# it last started clean.
DATE_STAMP = $(BUILD)/gen/source-date-epoch
# Their recipes are here too: a change to this file remakes them.
IMAGE_DEPS = $(DATE_STAMP) Makefile

# npm (build-web's xterm.js, the web tests' playwright-core) caches what it downloads
# here rather than in ~/.npm: nothing a build or a test run needs lives outside BUILD.
export npm_config_cache = $(abspath $(BUILD))/npm-cache

# The strict set is not optional: warnings are errors in every build, CI included.
WARNINGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) -Icommon
# Unit tests also run under AddressSanitizer and UndefinedBehaviorSanitizer.
SANITIZE  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

QEMU_BOOT  = host/qemu-boot
# Each program's manual page lives beside it.
MAN1       = imgtool/imgtool.1 sizecheck/sizecheck.1 host/vmctl/vmctl.1 host/qemu-boot.1
MAN8       = guest/vmd/vmd.8 sandbox/sandbox-helper.8

# The error helpers every program links; the vmd protocol codec only vmd and vmctl.
COMMON_SRC    = common/util.c common/text.c
# The --version line of the six programs, from the header make writes (below); -I$(BUILD)
# finds it as gen/version.h, so only the rules that list it can compile it.
VERSION_SRC   = common/version.c
VERSION_H     = $(BUILD)/gen/version.h
VERSION_FLAGS = -I$(BUILD)
PROTO_SRC     = common/proto.c
# The handshake's proofs (HMAC-SHA256): vmd, vmctl and the tests' WebSocket client.
AUTH_SRC      = common/auth.c common/sha256.c
SIZECHECK_LIB = $(filter-out sizecheck/main.c,$(wildcard sizecheck/*.c))
SIZECHECK_HDR = $(wildcard sizecheck/*.h common/*.h)
# with SHA-256 for the digests of an OVA's manifest
IMGTOOL_LIB   = $(filter-out imgtool/main.c,$(wildcard imgtool/*.c)) common/sha256.c
IMGTOOL_HDR   = $(wildcard imgtool/*.h common/*.h)
IMGTOOL_LIBS  = -lz -lzstd -lpthread
VMD_LIB       = $(filter-out guest/vmd/main.c,$(wildcard guest/vmd/*.c))
VMD_HDR       = $(wildcard guest/vmd/*.h common/*.h)
SANDBOX_LIB   = $(filter-out sandbox/main.c,$(wildcard sandbox/*.c))
SANDBOX_HDR   = $(wildcard sandbox/*.h common/*.h)
VMCTL_LIB     = $(filter-out host/vmctl/main.c,$(wildcard host/vmctl/*.c))
VMCTL_HDR     = $(wildcard host/vmctl/*.h common/*.h)
WS_LIBS       = -lwebsockets -lcjson -lm
UNIT_TESTS    = $(patsubst tests/unit/%.c,$(BUILD)/asan/%,$(wildcard tests/unit/test_*.c))

# Every container of the boot disk; boot.vmdk (monolithicFlat) comes with boot-flat.vmdk.
CONTAINERS = $(BUILD)/boot.qcow2 $(BUILD)/boot.vmdk $(BUILD)/boot.vhd $(BUILD)/boot.vhdx \
             $(BUILD)/boot.vdi
# The packages a platform imports as they are: an OVA for VMware and VirtualBox.
PACKAGES = $(BUILD)/boot.ova
IMAGES = $(BUILD)/boot.bin $(BUILD)/boot.img $(BUILD)/boot.iso $(CONTAINERS) $(PACKAGES) \
         $(BUILD)/SHA256SUMS
TOOLS  = $(BUILD)/sizecheck $(BUILD)/imgtool $(BUILD)/vmctl $(BUILD)/web/index.html \
         $(BUILD)/sandbox-helper \
         $(BUILD)/guest/vmd
GUEST  = $(BUILD)/guest/vmlinuz $(BUILD)/guest/initrd.img
PVH_STUB = $(BUILD)/guest/pvh-stub

.PHONY: all dist check size test bench run run-serial run-iso install uninstall clean help \
        unit fuzz screenshot web-screenshot guest FORCE
.DELETE_ON_ERROR:

all: $(IMAGES) $(TOOLS) $(GUEST) $(PVH_STUB)

# --- the boot program -------------------------------------------------------------
# NASM writes the map (symbol addresses, read by sizecheck) and a listing beside it.
define assemble
	$(NASM) -f bin -w+all -Werror -DMAPFILE=$(@:.bin=.map) -l $(@:.bin=.lst) -o $@ $<
endef

$(BUILD)/boot.bin: asm/boot.asm | $(BUILD)
	$(assemble)

# A 1 MiB raw disk: the program, zeros, and the 0x55AA signature at offset 510.
$(BUILD)/%.img: $(BUILD)/%.bin $(BUILD)/imgtool
	$(BUILD)/imgtool convert -O raw $< $@

# The containers, written by imgtool from the raw disk. The qcow2 uses 512-byte clusters:
# for a 1 MiB disk that holds one sector of code, they make a 3 KiB file.
$(BUILD)/boot.qcow2: $(BUILD)/boot.img $(BUILD)/imgtool $(IMAGE_DEPS)
	$(BUILD)/imgtool convert -o cluster_size=512 $< $@
$(BUILD)/boot.vmdk $(BUILD)/boot.vhd $(BUILD)/boot.vhdx $(BUILD)/boot.vdi: $(BUILD)/boot.%: $(BUILD)/boot.img \
                                                  $(BUILD)/imgtool $(IMAGE_DEPS)
	$(BUILD)/imgtool convert $< $@

# The OVA: boot.ovf (a 32 MiB, one-CPU VM, the disk on IDE, COM1), boot.mf, and the
# disk as a stream-optimized VMDK.
$(BUILD)/boot.ova: $(BUILD)/boot.img $(BUILD)/imgtool $(IMAGE_DEPS)
	$(BUILD)/imgtool pack $< $@

# The same sources give the same bytes on any machine: these sums are stable.
IMAGE_FILES = boot.bin boot.img boot.iso boot.qcow2 boot.vmdk boot-flat.vmdk boot.vhd \
              boot.vhdx boot.vdi boot.ova
$(BUILD)/SHA256SUMS: $(BUILD)/boot.bin $(BUILD)/boot.img $(BUILD)/boot.iso $(CONTAINERS) \
                     $(PACKAGES)
	cd $(BUILD) && sha256sum $(IMAGE_FILES) > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS

# --- the release ----------------------------------------------------------------------
# DIST holds what make all makes, and the packages of the platforms that want the disk
# grown or in an archive of their own, with SHA256SUMS over all of it. It is made
# beside DIST and takes DIST's place only when whole; a DIST that is a file is refused.
DIST ?= dist
DIST_DIR = $(patsubst %/,%,$(DIST))
DIST_PACKAGES = boot-azure.vhd boot-gce.tar.gz boot-libvirt.box boot-virtualbox.box
dist: $(IMAGES)
	@if [ -e '$(DIST_DIR)' ] && [ ! -d '$(DIST_DIR)' ]; then \
	    echo "make dist: $(DIST_DIR) is a file, not a folder; remove it or give DIST=a folder." >&2; \
	    exit 1; fi
	rm -rf '$(DIST_DIR).tmp' && mkdir -p '$(DIST_DIR).tmp'
	cd $(BUILD) && cp $(IMAGE_FILES) '$(abspath $(DIST_DIR)).tmp/'
	@# Azure: a fixed VHD of a whole number of MiB, 20 MiB + 512 bytes at the least
	$(BUILD)/imgtool convert -O vhd -o subformat=fixed,size=20M $(BUILD)/boot.img \
	    '$(DIST_DIR).tmp/boot-azure.vhd'
	@# GCE: disk.raw grown to 1 GiB, sparse, in an old-GNU tar, gzipped
	$(BUILD)/imgtool pack -O gce $(BUILD)/boot.img '$(DIST_DIR).tmp/boot-gce.tar.gz'
	$(BUILD)/imgtool pack -O vagrant-libvirt $(BUILD)/boot.img '$(DIST_DIR).tmp/boot-libvirt.box'
	$(BUILD)/imgtool pack -O vagrant-virtualbox -o name=boot $(BUILD)/boot.img \
	    '$(DIST_DIR).tmp/boot-virtualbox.box'
	cd '$(DIST_DIR).tmp' && sha256sum $(IMAGE_FILES) $(DIST_PACKAGES) > SHA256SUMS
	rm -rf '$(DIST_DIR)' && mv '$(DIST_DIR).tmp' '$(DIST_DIR)'
	@echo "$(DIST_DIR): $(words $(IMAGE_FILES) $(DIST_PACKAGES)) files and SHA256SUMS"

# El Torito, no emulation, 4 virtual sectors loaded, and no boot-info-table (it would
# overwrite bytes 8..63, which are code). xorriso records each file's owner, mode and
# times: -r makes them root's and world-readable, and every file and folder gets
# SOURCE_DATE_EPOCH as its date (xorriso itself takes only the volume's dates from it),
# so the ISO does not depend on who built it, with which umask, or when.
ISO_DATE = $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y%m%d%H%M%S00)
$(BUILD)/boot.iso: $(BUILD)/boot.bin $(IMAGE_DEPS)
	rm -rf $(BUILD)/iso.tmp $@.tmp
	mkdir -p $(BUILD)/iso.tmp
	cp $< $(BUILD)/iso.tmp/boot.bin
	$(XORRISO) -as mkisofs -quiet -r --set_all_file_dates $(ISO_DATE) -V CLIENTAPI \
	    -o $@.tmp -b boot.bin -c boot.cat -no-emul-boot -boot-load-size 4 -no-pad \
	    $(BUILD)/iso.tmp
	rm -rf $(BUILD)/iso.tmp
	mv $@.tmp $@

$(DATE_STAMP): FORCE | $(BUILD)/gen
	@echo $(SOURCE_DATE_EPOCH) >$@.tmp
	@$(replace_if_changed)

# --- C tools ----------------------------------------------------------------------
# The version every program prints: VERSION and, in a checkout, git describe
# (common/version.sh). Worked out on every make but replaced only when it changes, so a
# second build of the same commit relinks nothing.
$(VERSION_H): VERSION common/version.sh FORCE | $(BUILD)/gen
	@v=$$(common/version.sh) && printf '%s\n%s\n' \
	    '/* Written by make from VERSION and git describe (common/version.sh). */' \
	    "#define CLIENTAPI_VERSION \"$$v\"" >$@.tmp
	@$(replace_if_changed)
# Files that are worked out on every make (FORCE) but must change only when their
# content does, so that what depends on them is remade only then: the recipe writes
# $@.tmp, and this puts it in place or throws it away.
replace_if_changed = if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:

$(BUILD)/sizecheck: sizecheck/main.c $(SIZECHECK_LIB) $(COMMON_SRC) $(SIZECHECK_HDR) \
                    $(VERSION_SRC) $(VERSION_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(VERSION_FLAGS) -o $@ sizecheck/main.c $(SIZECHECK_LIB) $(COMMON_SRC) \
	    $(VERSION_SRC)

$(BUILD)/imgtool: imgtool/main.c $(IMGTOOL_LIB) $(COMMON_SRC) $(IMGTOOL_HDR) $(VERSION_SRC) \
                  $(VERSION_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(VERSION_FLAGS) -o $@ imgtool/main.c $(IMGTOOL_LIB) $(COMMON_SRC) \
	    $(VERSION_SRC) $(IMGTOOL_LIBS)

# --- the sandbox: vmctl on the host, vmd and sandbox-helper in the guest ----------------
$(BUILD)/vmctl: host/vmctl/main.c $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VMCTL_HDR) \
                $(VERSION_SRC) $(VERSION_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(VERSION_FLAGS) -Ihost/vmctl -o $@ host/vmctl/main.c $(VMCTL_LIB) \
	    $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VERSION_SRC) $(WS_LIBS)

# -z now: every symbol bound when vmd starts, which a template has done before it is
# saved. Bound lazily, each clone looked them up on its first connection, under TCG
# with none of the dynamic loader translated yet: start 214 ms -> 181 ms, the first
# exec 322 ms -> 257 ms (medians of 12).
$(BUILD)/guest/vmd: guest/vmd/main.c $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VMD_HDR) \
                    $(VERSION_SRC) $(VERSION_H) | $(BUILD)/guest
	$(CC) $(ALL_CFLAGS) $(VERSION_FLAGS) -Wl,-z,now -Iguest/vmd -o $@ guest/vmd/main.c \
	    $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VERSION_SRC) $(WS_LIBS)

# vmd under ASan and UBSan, for the end-to-end suite on the host.
$(BUILD)/asan/vmd: guest/vmd/main.c $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VMD_HDR) \
                   $(VERSION_SRC) $(VERSION_H) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) $(VERSION_FLAGS) -Iguest/vmd -o $@ guest/vmd/main.c \
	    $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VERSION_SRC) $(WS_LIBS)

# Static: every sandboxed command starts one, and under TCG the dynamic loader alone
# (libseccomp and libc) took 30 ms of the helper's 90 ms; static, the helper takes 40.
$(BUILD)/sandbox-helper: sandbox/main.c $(SANDBOX_LIB) $(COMMON_SRC) $(SANDBOX_HDR) \
                         $(BUILD)/gen/filter_bpf.c $(VERSION_SRC) $(VERSION_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(VERSION_FLAGS) -static -Isandbox -o $@ sandbox/main.c $(SANDBOX_LIB) \
	    $(COMMON_SRC) $(VERSION_SRC) $(BUILD)/gen/filter_bpf.c -lseccomp

# The seccomp program, generated once here instead of in every sandboxed start.
$(BUILD)/gen/filter-gen: sandbox/tools/filter-gen.c $(SANDBOX_LIB) $(COMMON_SRC) $(SANDBOX_HDR) \
                         | $(BUILD)/gen
	$(CC) $(ALL_CFLAGS) -Isandbox -o $@ $< $(SANDBOX_LIB) $(COMMON_SRC) -lseccomp

$(BUILD)/gen/filter_bpf.c: $(BUILD)/gen/filter-gen
	$< > $@.tmp && mv $@.tmp $@

# The qemu-boot that make install installs: the same script with its version written
# in, since no source tree is beside it to ask.
$(BUILD)/gen/qemu-boot: $(QEMU_BOOT) $(VERSION_H) | $(BUILD)/gen
	v=$$(sed -n 's/^#define CLIENTAPI_VERSION "\(.*\)"$$/\1/p' $(VERSION_H)) && \
	    sed "s|^release=\$$|release='$$v'|" $(QEMU_BOOT) >$@.tmp
	grep -q "^release='.*'$$" $@.tmp
	chmod 755 $@.tmp && mv $@.tmp $@

# The terminal page of vmctl web: our sources and xterm.js, packed from npm at pinned
# versions whose sha512 host/web/build-web checks; served locally, it works offline.
WEB_SRC = host/web/index.html host/web/app.js host/web/app.css
$(BUILD)/web/index.html: host/web/build-web $(WEB_SRC) | $(BUILD)
	host/web/build-web $(BUILD)/web

# The guest: Debian's kernel and busybox (downloaded once into build/guest/debs),
# vmd and sandbox-helper with their libraries, in an initramfs made without root.
guest: $(GUEST) $(PVH_STUB)
# What a clone's QEMU is given as its kernel (see the file): no build id, so that it
# is the same bytes on every build.
$(PVH_STUB): guest/pvh-stub.S | $(BUILD)/guest
	$(CC) -nostdlib -static -no-pie -Wl,-n -Wl,-Ttext=0x100000 -Wl,-e,entry \
	    -Wl,--build-id=none -s -o $@ guest/pvh-stub.S
# One run of build-image makes both files (&: so that make -j does not run it twice);
# vmlinuz keeps the package's date, so both are touched, or make would remake them
# every time.
$(GUEST) &: guest/build-image guest/init guest/cmdline guest/fstab $(wildcard guest/*.conf) \
          $(BUILD)/guest/vmd \
          $(BUILD)/sandbox-helper
	guest/build-image --out $(BUILD)/guest --vmd $(BUILD)/guest/vmd \
	    --sandbox-helper $(BUILD)/sandbox-helper
	touch $(GUEST)

$(BUILD)/asan/test_common_text: tests/unit/test_common_text.c $(COMMON_SRC) common/text.h \
                                | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@ $< $(COMMON_SRC) -lcmocka

$(BUILD)/asan/test_common_auth: tests/unit/test_common_auth.c $(AUTH_SRC) common/auth.h \
                                common/sha256.h | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@ $< $(AUTH_SRC) -lcmocka

$(BUILD)/asan/test_sizecheck: tests/unit/test_sizecheck.c $(SIZECHECK_LIB) $(COMMON_SRC) \
                              $(SIZECHECK_HDR) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Isizecheck -o $@ $< $(SIZECHECK_LIB) $(COMMON_SRC) -lcmocka

$(BUILD)/asan/test_imgtool%: tests/unit/test_imgtool%.c $(IMGTOOL_LIB) $(COMMON_SRC) \
                             $(IMGTOOL_HDR) tests/unit/imgtool_harness.h | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Iimgtool -Itests/unit -o $@ $< $(IMGTOOL_LIB) \
	    $(COMMON_SRC) $(IMGTOOL_LIBS) -lcmocka

# libFuzzer targets, one per reader: clang builds them with ASan and UBSan.
FUZZ_FORMATS = raw vhd vhdx vdi vmdk qcow2
FUZZERS      = $(FUZZ_FORMATS:%=$(BUILD)/fuzz/fuzz_%) $(BUILD)/fuzz/fuzz_frame \
               $(BUILD)/fuzz/fuzz_vmctl
CLANG       ?= clang
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_reader.c $(IMGTOOL_LIB) $(COMMON_SRC) $(IMGTOOL_HDR) \
                      | $(BUILD)/fuzz
	$(CLANG) -std=c11 -D_GNU_SOURCE $(WARNINGS) -g -O1 -Icommon -Iimgtool \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -DFUZZ_FORMAT=fmt_$* -o $@ $< $(IMGTOOL_LIB) $(COMMON_SRC) $(IMGTOOL_LIBS)

$(BUILD)/asan/test_proto: tests/unit/test_proto.c $(PROTO_SRC) $(COMMON_SRC) common/proto.h \
                          | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@ $< $(PROTO_SRC) $(COMMON_SRC) -lcjson -lcmocka

$(BUILD)/asan/test_vmd%: tests/unit/test_vmd%.c $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) \
                         $(VMD_HDR) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Iguest/vmd -o $@ $< $(VMD_LIB) $(COMMON_SRC) $(PROTO_SRC) \
	    $(AUTH_SRC) $(WS_LIBS) -lcmocka

$(BUILD)/asan/test_vmctl%: tests/unit/test_vmctl%.c $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) \
                           $(AUTH_SRC) $(VMCTL_HDR) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Ihost/vmctl -o $@ $< $(VMCTL_LIB) $(COMMON_SRC) \
	    $(PROTO_SRC) $(AUTH_SRC) $(WS_LIBS) -lcmocka

# The home disks' tests run the real imgtool, from the build folder.
$(BUILD)/asan/test_vmctl_disk: $(BUILD)/imgtool

$(BUILD)/asan/test_sandbox%: tests/unit/test_sandbox%.c $(SANDBOX_LIB) $(COMMON_SRC) \
                             $(SANDBOX_HDR) $(BUILD)/gen/filter_bpf.c | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Isandbox -o $@ $< $(SANDBOX_LIB) $(COMMON_SRC) \
	    $(BUILD)/gen/filter_bpf.c -lseccomp \
	    -lcmocka

$(BUILD)/fuzz/fuzz_frame: tests/fuzz/fuzz_frame.c $(PROTO_SRC) $(COMMON_SRC) common/proto.h \
                          | $(BUILD)/fuzz
	$(CLANG) -std=c11 -D_GNU_SOURCE $(WARNINGS) -g -O1 -Icommon \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(PROTO_SRC) $(COMMON_SRC) -lcjson

# vmctl's side: replies decoded, escaped and checked as vmctl does before printing.
$(BUILD)/fuzz/fuzz_vmctl: tests/fuzz/fuzz_vmctl.c $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) \
                          $(AUTH_SRC) $(VMCTL_HDR) | $(BUILD)/fuzz
	$(CLANG) -std=c11 -D_GNU_SOURCE $(WARNINGS) -g -O1 -Icommon -Ihost/vmctl \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $< $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(WS_LIBS)

# vmd's end-to-end client (it speaks raw WebSocket, bad frames included) and its benchmark.
$(BUILD)/tests/test_vmd_e2e: $(BUILD)/tests/%: tests/vmd/%.c \
        tests/vmd/wsclient.c tests/vmd/wsclient.h $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) \
        common/proto.h common/auth.h | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/vmd -o $@ $< tests/vmd/wsclient.c $(COMMON_SRC) $(PROTO_SRC) \
	    $(AUTH_SRC) -lcjson -lm

# vmctl's end-to-end suite: a raw client of vmd (bad frames, the secret), and the
# isolation probe, static so that it runs in the guest.
$(BUILD)/tests/wstool: tests/vmctl/wstool.c tests/vmd/wsclient.c tests/vmd/wsclient.h \
                       $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) common/proto.h common/auth.h \
                       | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/vmd -o $@ $< tests/vmd/wsclient.c $(COMMON_SRC) $(PROTO_SRC) \
	    $(AUTH_SRC) -lcjson -lm

# vmctl against a vmd gone hostile (tests/vmctl/hostile.sh): a stand-in that sends
# what a real vmd never would.
$(BUILD)/tests/hostile-vmd: tests/vmctl/hostile-vmd.c $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) \
                            common/proto.h common/auth.h | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) -lcjson -lcrypto -lm

# vmctl under ASan and UBSan, for hostile.sh.
$(BUILD)/asan/vmctl: host/vmctl/main.c $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) \
                     $(VMCTL_HDR) $(VERSION_SRC) $(VERSION_H) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) $(VERSION_FLAGS) -Ihost/vmctl -o $@ host/vmctl/main.c \
	    $(VMCTL_LIB) $(COMMON_SRC) $(PROTO_SRC) $(AUTH_SRC) $(VERSION_SRC) $(WS_LIBS)

$(BUILD)/tests/probe-static: tests/sandbox/probe.c | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -static -o $@ $<

$(BUILD) $(BUILD)/asan $(BUILD)/bench $(BUILD)/fuzz $(BUILD)/gen $(BUILD)/guest $(BUILD)/tests:
	mkdir -p $@

# --- checks and tests ---------------------------------------------------------------
size: $(BUILD)/boot.bin $(BUILD)/sizecheck
	@$(BUILD)/sizecheck size $(BUILD)/boot.bin $(BUILD)/boot.map

check: $(IMAGES) $(BUILD)/sizecheck
	@$(BUILD)/sizecheck check $(BUILD)/boot.bin $(BUILD)/boot.map $(BUILD)/boot.img

unit: $(UNIT_TESTS)

# Fuzz every image reader, starting from the containers make all wrote, vmd's frame
# parser and vmctl's side of the protocol, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: all $(FUZZERS)
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/vmd/fuzz.sh

# The whole suite: unit tests under sanitizers, sizecheck on the build, and the Expect
# REPL suite booting every container. Ends with "N passed, N failed".
test: all unit $(FUZZERS) $(BUILD)/tests/test_vmd_e2e $(BUILD)/asan/vmd \
      $(BUILD)/tests/wstool $(BUILD)/tests/probe-static $(BUILD)/tests/hostile-vmd \
      $(BUILD)/asan/vmctl
	@BUILD=$(BUILD) tests/run

# The reference design (bench/reference.asm) is built beside ours and both are booted
# in the same run; then imgtool beside qemu-img. BENCH_FLAGS and IMGBENCH_FLAGS pass
# options to bootbench and imgbench (see their --help).
# Last the sandbox: vmctl beside a bare busybox guest booted on QEMU's defaults
# (VMBENCH_FLAGS, see vmbench --help).
BENCH_FLAGS ?=
IMGBENCH_FLAGS ?=
VMBENCH_FLAGS ?=
PEER_GUEST = $(BUILD)/bench/peer-guest/initrd.img
# playwright-core for the keystroke figure, as tests/web's lockfile pins it (the
# same folder tests/web/run.sh installs into).
WEB_NODE = $(BUILD)/tests/web-node
$(WEB_NODE)/node_modules/playwright-core/package.json: tests/web/package.json \
                                                      tests/web/package-lock.json
	mkdir -p $(WEB_NODE)
	cp tests/web/package.json tests/web/package-lock.json $(WEB_NODE)/
	cd $(WEB_NODE) && npm ci --no-audit --no-fund --silent
	touch $@
bench: all $(BUILD)/bench/reference.img $(BUILD)/bench/bootbench $(BUILD)/bench/imgbench \
       $(BUILD)/bench/vmbench $(PEER_GUEST) $(WEB_NODE)/node_modules/playwright-core/package.json
	@QEMU_BOOT=$(QEMU_BOOT) $(BUILD)/bench/bootbench --machine $(MACHINE) \
	    --sizes "$$($(BUILD)/sizecheck size $(BUILD)/boot.bin $(BUILD)/boot.map | cut -d' ' -f1) \
	             $$($(BUILD)/sizecheck size $(BUILD)/bench/reference.bin $(BUILD)/bench/reference.map | cut -d' ' -f1)" \
	    $(BENCH_FLAGS) $(BUILD)/boot.img $(BUILD)/bench/reference.img
	@echo
	@$(BUILD)/bench/imgbench --imgtool $(BUILD)/imgtool $(IMGBENCH_FLAGS) $(BUILD)/boot.img
	@echo
	@NODE_PATH=$(WEB_NODE)/node_modules $(BUILD)/bench/vmbench --vmctl $(BUILD)/vmctl --peer-kernel $(BUILD)/bench/peer-guest/vmlinuz \
	    --peer-initrd $(PEER_GUEST) --node "$$(command -v node)" --key-script bench/keylatency.js \
	    $(VMBENCH_FLAGS)

# The peer guest: the same kernel package as Debian ships it (bzImage), busybox only.
$(PEER_GUEST): guest/build-image guest/init $(GUEST) | $(BUILD)/bench
	guest/build-image --out $(BUILD)/bench/peer-guest --cache $(BUILD)/guest/cache \
	    --without-vmd --without-sandbox-helper --kernel-format bzimage

$(BUILD)/bench/reference.bin: bench/reference.asm | $(BUILD)/bench
	$(assemble)

$(BUILD)/bench/%: bench/%.c $(COMMON_SRC) $(wildcard common/*.h) | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_SRC)

# --- running it ---------------------------------------------------------------------
run: $(BUILD)/boot.img
	$(QEMU_BOOT) --snapshot --machine $(MACHINE) --display default --serial stdio $<

run-serial: $(BUILD)/boot.img
	@echo "COM1 on this terminal; Ctrl-A X quits."
	$(QEMU_BOOT) --snapshot --machine $(MACHINE) --display none --serial mon $<

run-iso: $(BUILD)/boot.iso
	$(QEMU_BOOT) --snapshot --machine $(MACHINE) --display default --serial stdio $<

screenshot: $(BUILD)/boot.img
	tests/expect/screenshot.exp $(BUILD)/boot.img docs/screen.png

# vmctl web's page in headless Chromium, on a real sandbox, saved for the README.
web-screenshot: $(BUILD)/vmctl $(BUILD)/web/index.html $(GUEST)
	BUILD=$(BUILD) SHOT=docs/web.png bash tests/web/run.sh

# --- install ------------------------------------------------------------------------
install: all $(BUILD)/gen/qemu-boot
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/clientapi
	install -m 755 $(BUILD)/sizecheck $(BUILD)/imgtool $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/gen/qemu-boot $(DESTDIR)$(PREFIX)/bin/qemu-boot
	install -m 644 $(BUILD)/boot.bin $(BUILD)/boot.img $(BUILD)/boot.iso $(CONTAINERS) \
	    $(PACKAGES) $(BUILD)/boot-flat.vmdk $(BUILD)/SHA256SUMS $(DESTDIR)$(PREFIX)/share/clientapi/
	install -m 755 $(BUILD)/vmctl $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/clientapi/guest
	install -m 644 $(BUILD)/guest/vmlinuz $(BUILD)/guest/initrd.img $(BUILD)/guest/cmdline \
	    $(PVH_STUB) \
	    $(DESTDIR)$(PREFIX)/share/clientapi/guest/
	install -d $(DESTDIR)$(PREFIX)/share/clientapi/web
	install -m 644 $(BUILD)/web/* $(DESTDIR)$(PREFIX)/share/clientapi/web/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sizecheck $(DESTDIR)$(PREFIX)/bin/imgtool \
	    $(DESTDIR)$(PREFIX)/bin/qemu-boot $(DESTDIR)$(PREFIX)/bin/vmctl
	rm -rf $(DESTDIR)$(PREFIX)/share/clientapi
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))

clean:
	rm -rf $(BUILD) '$(DIST_DIR)' '$(DIST_DIR).tmp'

help:
	@echo "make all         build/boot.bin, boot.img (1 MiB raw), boot.iso, every container,"
	@echo "                 the tools (imgtool, sizecheck, vmctl) and the sandbox guest"
	@echo "make dist        $(DIST_DIR)/: the release, make all's images and the Azure, GCE and"
	@echo "                 Vagrant packages, with SHA256SUMS (DIST=folder)"
	@echo "make guest       build/guest: the sandbox's kernel and initramfs (vmd inside)"
	@echo "make size        bytes of the 256-byte budget in use"
	@echo "make check       verify boot.bin and boot.img; the budget per routine"
	@echo "make test        unit tests (ASan/UBSan), the Expect suite on every container, the"
	@echo "                 sandbox on this host and in real VMs through vmctl"
	@echo "make fuzz        fuzz every imgtool reader, vmd's frame parser and vmctl's replies"
	@echo "                 (FUZZ_SECONDS each)"
	@echo "make bench       the boot program beside the reference, imgtool beside qemu-img,"
	@echo "                 the sandbox beside a bare guest on QEMU's defaults"
	@echo "make run         boot boot.img with a window and COM1 on this terminal"
	@echo "make run-serial  COM1 only, on this terminal (Ctrl-A X quits)"
	@echo "make run-iso     boot boot.iso with a window and COM1 on this terminal"
	@echo "make screenshot  redraw docs/screen.png from QEMU's screendump"
	@echo "make web-screenshot  redraw docs/web.png: vmctl web in headless Chromium"
	@echo "make install     the tools, images, guest and manual pages to \$$(DESTDIR)\$$(PREFIX)"
	@echo "                 (now $(DESTDIR)$(PREFIX)); make uninstall removes them"
	@echo "make clean       remove $(BUILD)/ and $(DIST_DIR)/"
	@echo "Settings: BUILD DIST PREFIX DESTDIR MANDIR NASM CC CFLAGS XORRISO MACHINE"
