#!/usr/bin/env bash
# conventions.sh - the six programs agree on --version, -h, --help and a bad option.
#
# The version each prints is worked out here from VERSION and git describe, not taken
# from common/version.sh, so the test sees it if the build and the tree disagree (as
# they do when a tracked file changed after the last make: build again).
#
# Plan
#   1  the version is VERSION's release, then git describe in a checkout
#   2  --version prints "PROG VERSION" on stdout, status 0, for each of the six
#   3  --version after a mistake still prints the version
#   4  -h and --help print the same usage on stdout, status 0, listing --version
#   5  an unknown option is one sentence and a usage line on stderr, status 2
#      (sandbox-helper: 125, the status it keeps apart from its command's)
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
plan 5

release=$(<"$root/VERSION")
version=$release
if [[ -e $root/.git ]] &&
   describe=$(git -C "$root" -c safe.directory='*' describe --always --dirty --tags 2>/dev/null); then
	version+=" ($describe)"
fi

source "$root/tests/programs.sh"

[[ $release =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || why+=("VERSION holds \"$release\", not a release like 0.9.0")
[[ $version == "$release"* ]] || why+=("the version $version does not begin with $release")
if [[ -e $root/.git ]]; then
	[[ $version =~ ^$release\ \([^\)]+\)$ ]] || why+=("no (git describe) in a checkout: $version")
fi
case_end "the version is VERSION's release, then git describe in a checkout"

for p in "${programs[@]}"; do
	run "${path[$p]}" --version
	expect_status 0
	expect_out "$p $version"
	expect_err ""
done
case_end "--version prints \"PROG VERSION\" on stdout, status 0, for each of the six"

for p in "${programs[@]}"; do
	run "${path[$p]}" --bogus --version
	expect_status 0
	expect_out "$p $version"
	expect_err ""
done
case_end "--version after a mistake still prints the version"

for p in "${programs[@]}"; do
	run "${path[$p]}" --help
	expect_status 0
	expect_err ""
	long=$out
	[[ $long == usage:* ]] || why+=("$p --help does not begin with usage: $long")
	[[ $long == *--version* ]] || why+=("$p --help does not list --version")
	run "${path[$p]}" -h
	expect_status 0
	expect_err ""
	expect_out "$long"
done
case_end "-h and --help print the same usage on stdout, status 0, listing --version"

declare -A refusal=(
	[imgtool]='imgtool: unknown option "--bogus"; the commands are convert, create, pack, info and check.
usage: imgtool convert|create|pack|info|check ... (imgtool --help says more)'
	[sizecheck]='sizecheck: unknown option "--bogus"; the options are --budget N, --help and --version.
usage: sizecheck size|check [--budget N] FILE... (sizecheck --help says more)'
	[vmctl]='vmctl: unknown option "--bogus"; the commands are start, template, exec, install, cp, session, web, stop, pause, resume, fork and list.
usage: vmctl start|template|exec|install|cp|session|web|stop|pause|resume|fork|list ... (vmctl --help says more)'
	[vmd]='vmd: unknown option "--bogus"; see vmd --help.
usage: vmd --secret-file PATH|--identity PATH [OPTION]... (vmd --help lists the options)'
	[sandbox-helper]='sandbox-helper: unknown option "--bogus"; sandbox-helper --help lists the options.
usage: sandbox-helper [OPTIONS] -- CMD [ARGS...] (sandbox-helper --help lists the options)'
	[qemu-boot]='qemu-boot: unknown option "--bogus".
usage: qemu-boot [options] [IMAGE] [-- QEMU-ARGS...] (qemu-boot --help lists the options)'
)
for p in "${programs[@]}"; do
	run "${path[$p]}" --bogus
	if [[ $p == sandbox-helper ]]; then expect_status 125; else expect_status 2; fi
	expect_out ""
	expect_err "${refusal[$p]}"
done
case_end "an unknown option is one sentence and a usage line on stderr, status 2 (sandbox-helper 125)"

finish
