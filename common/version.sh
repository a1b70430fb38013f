#!/usr/bin/env bash
# common/version.sh - print this source tree's version: the release in the top-level
# VERSION file and, in a git checkout, "(git describe)" after it, e.g.
# "0.9.0 (v0.9.0-3-gabc1234-dirty)". The Makefile writes it into every C program
# (build/gen/version.h) and into the installed qemu-boot; qemu-boot run from the tree
# asks this script, so all six programs say the same.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(<"$root/VERSION")
# It becomes a C string and a word of a shell assignment: nothing there needs quoting.
[[ $version =~ ^[0-9A-Za-z.+~-]+$ ]] ||
	{ echo "common/version.sh: $root/VERSION must hold one version, like 0.9.0." >&2; exit 1; }
# Only the tree's own .git: a tarball unpacked inside another checkout must not take
# that one's commit. safe.directory: a build by another user than the clone's owner
# (root in CI, say) still reads it.
if [[ -e $root/.git ]] &&
   describe=$(git -C "$root" -c safe.directory='*' describe --always --dirty --tags 2>/dev/null) &&
   [[ $describe =~ ^[0-9A-Za-z./+~_-]+$ ]]; then
	version+=" ($describe)"
fi
printf '%s\n' "$version"
