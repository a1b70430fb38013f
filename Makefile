# ClientAPI boot program: build, check, test, benchmark, run, install.
# `make help` lists the targets. Every setting below can be overridden on the command
# line, e.g. `make CC=clang BUILD=/tmp/out`.

# Everything made goes here; `make clean` removes it.
BUILD     ?= build
# Install root, and a staging root for packagers that is prepended to it.
PREFIX    ?= /usr/local
DESTDIR   ?=
NASM      ?= nasm
CC        ?= cc
CFLAGS    ?= -O2 -g
XORRISO   ?= xorriso
# QEMU machine type for the run targets (pc, q35, pc-i440fx-1.4, ...).
MACHINE   ?= pc
# Reproducible ISO dates: the last commit's time, or the epoch outside a git checkout.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

# The strict set is not optional: warnings are errors in every build, CI included.
WARNINGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) -Icommon
# Unit tests also run under AddressSanitizer and UndefinedBehaviorSanitizer.
SANITIZE  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

QEMU_BOOT  = host/qemu-boot

COMMON_SRC    = $(wildcard common/*.c)
SIZECHECK_LIB = $(filter-out sizecheck/main.c,$(wildcard sizecheck/*.c))
SIZECHECK_HDR = $(wildcard sizecheck/*.h common/*.h)

IMAGES = $(BUILD)/boot.bin $(BUILD)/boot.img $(BUILD)/boot.iso
TOOLS  = $(BUILD)/sizecheck

.PHONY: all check size test bench run run-serial run-iso install uninstall clean help \
        unit screenshot
.DELETE_ON_ERROR:

all: $(IMAGES) $(TOOLS)

# --- the boot program -------------------------------------------------------------
# NASM writes the map (symbol addresses, read by sizecheck) and a listing beside it.
define assemble
	$(NASM) -f bin -w+all -Werror -DMAPFILE=$(@:.bin=.map) -l $(@:.bin=.lst) -o $@ $<
endef

$(BUILD)/boot.bin: asm/boot.asm | $(BUILD)
	$(assemble)

# A 1 MiB raw disk: the program, zeros, and the 0x55AA signature at offset 510.
$(BUILD)/%.img: $(BUILD)/%.bin
	cp $< $@.tmp
	truncate -s 1M $@.tmp
	printf '\125\252' | dd of=$@.tmp bs=1 seek=510 conv=notrunc status=none
	mv $@.tmp $@

# El Torito, no emulation, 4 virtual sectors loaded, and no boot-info-table (it would
# overwrite bytes 8..63, which are code).
$(BUILD)/boot.iso: $(BUILD)/boot.bin
	rm -rf $(BUILD)/iso.tmp $@.tmp
	mkdir -p $(BUILD)/iso.tmp
	cp $< $(BUILD)/iso.tmp/boot.bin
	$(XORRISO) -as mkisofs -quiet -V CLIENTAPI -o $@.tmp -b boot.bin -c boot.cat \
	    -no-emul-boot -boot-load-size 4 -no-pad $(BUILD)/iso.tmp
	rm -rf $(BUILD)/iso.tmp
	mv $@.tmp $@

# --- C tools ----------------------------------------------------------------------
$(BUILD)/sizecheck: sizecheck/main.c $(SIZECHECK_LIB) $(COMMON_SRC) $(SIZECHECK_HDR) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ sizecheck/main.c $(SIZECHECK_LIB) $(COMMON_SRC)

$(BUILD)/asan/test_sizecheck: tests/unit/test_sizecheck.c $(SIZECHECK_LIB) $(COMMON_SRC) \
                              $(SIZECHECK_HDR) | $(BUILD)/asan
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Isizecheck -o $@ $< $(SIZECHECK_LIB) $(COMMON_SRC) -lcmocka

$(BUILD) $(BUILD)/asan $(BUILD)/bench:
	mkdir -p $@

# --- checks and tests ---------------------------------------------------------------
size: $(BUILD)/boot.bin $(BUILD)/sizecheck
	@$(BUILD)/sizecheck size $(BUILD)/boot.bin $(BUILD)/boot.map

check: $(IMAGES) $(BUILD)/sizecheck
	@$(BUILD)/sizecheck check $(BUILD)/boot.bin $(BUILD)/boot.map $(BUILD)/boot.img

unit: $(BUILD)/asan/test_sizecheck

# The whole suite: unit tests under sanitizers, sizecheck on the build, and the Expect
# REPL suite booting every container. Ends with "N passed, N failed".
test: all unit
	@BUILD=$(BUILD) tests/run

# The reference design (bench/reference.asm) is built beside ours and both are booted
# in the same run. BENCH_FLAGS passes options to bootbench (see bootbench --help).
BENCH_FLAGS ?=
bench: all $(BUILD)/bench/reference.img $(BUILD)/bench/bootbench
	@QEMU_BOOT=$(QEMU_BOOT) $(BUILD)/bench/bootbench --machine $(MACHINE) \
	    --sizes "$$($(BUILD)/sizecheck size $(BUILD)/boot.bin $(BUILD)/boot.map | cut -d' ' -f1) \
	             $$($(BUILD)/sizecheck size $(BUILD)/bench/reference.bin $(BUILD)/bench/reference.map | cut -d' ' -f1)" \
	    $(BENCH_FLAGS) $(BUILD)/boot.img $(BUILD)/bench/reference.img

$(BUILD)/bench/reference.bin: bench/reference.asm | $(BUILD)/bench
	$(assemble)

$(BUILD)/bench/bootbench: bench/bootbench.c $(COMMON_SRC) $(wildcard common/*.h) | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ bench/bootbench.c $(COMMON_SRC)

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

# --- install ------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/clientapi
	install -m 755 $(BUILD)/sizecheck $(DESTDIR)$(PREFIX)/bin/sizecheck
	install -m 755 $(QEMU_BOOT) $(DESTDIR)$(PREFIX)/bin/qemu-boot
	install -m 644 $(BUILD)/boot.bin $(BUILD)/boot.img $(BUILD)/boot.iso \
	    $(DESTDIR)$(PREFIX)/share/clientapi/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sizecheck $(DESTDIR)$(PREFIX)/bin/qemu-boot
	rm -rf $(DESTDIR)$(PREFIX)/share/clientapi

clean:
	rm -rf $(BUILD)

help:
	@echo "make all         build/boot.bin, boot.img (1 MiB raw), boot.iso and the tools"
	@echo "make size        bytes of the 256-byte budget in use"
	@echo "make check       verify boot.bin and boot.img; the budget per routine"
	@echo "make test        unit tests (ASan/UBSan) and the Expect suite on every container"
	@echo "make bench       latency, idle CPU and size beside the reference design"
	@echo "make run         boot boot.img with a window and COM1 on this terminal"
	@echo "make run-serial  COM1 only, on this terminal (Ctrl-A X quits)"
	@echo "make run-iso     boot boot.iso with a window and COM1 on this terminal"
	@echo "make screenshot  redraw docs/screen.png from QEMU's screendump"
	@echo "make install     to \$$(DESTDIR)\$$(PREFIX) (now $(DESTDIR)$(PREFIX))"
	@echo "make clean       remove $(BUILD)/"
	@echo "Settings: BUILD PREFIX DESTDIR NASM CC CFLAGS XORRISO MACHINE"
