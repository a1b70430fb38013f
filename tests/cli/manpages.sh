#!/usr/bin/env bash
# manpages.sh - the six manual pages: clean under mandoc's and groff's warnings, and
# naming the same options as the program's --help, so that neither drifts.
#
# A page's options are the arguments of its Fl macros (comments aside); the help's are
# the words that begin with - or -- after a blank, "[", "(", "|" or ",", with vmctl's
# "--share[-ro]" read as --share and --share-ro. Options of other programs (QEMU's
# -bios, say) are marked up with Fl too, so they count on both sides alike.
#
# Plan
#   1  mandoc -T lint -W warning prints nothing for each page, status 0
#   2  groff -mandoc -ww prints nothing for each page, status 0
#   3  each page has its title and the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
#      EXIT STATUS, EXAMPLES and SEE ALSO
#   4  imgtool(1) names every option imgtool --help lists, and no other
#   5  sizecheck(1) the same for sizecheck --help
#   6  vmctl(1) for vmctl --help
#   7  qemu-boot(1) for qemu-boot --help
#   8  vmd(8) for vmd --help
#   9  sandbox-helper(8) for sandbox-helper --help
source "$(dirname "$0")/../tap.sh"
B=${BUILD:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
plan 9

source "$root/tests/programs.sh"

need() { command -v "$1" >/dev/null || why+=("$1 is not installed (ci/install-deps installs it)"); }

need mandoc
for p in "${programs[@]}"; do
	run mandoc -T lint -W warning "$root/${page[$p]}"
	expect_status 0
	expect_out ""
	expect_err ""
done
case_end "mandoc -T lint -W warning prints nothing for each page, status 0"

need groff
for p in "${programs[@]}"; do
	run groff -mandoc -ww -z "$root/${page[$p]}"
	expect_status 0
	expect_out ""
	expect_err ""
done
case_end "groff -mandoc -ww prints nothing for each page, status 0"

for p in "${programs[@]}"; do
	f=$root/${page[$p]}
	title=$(tr '[:lower:]' '[:upper:]' <<<"$p")
	grep -qx "\.Dt $title ${f##*.}" "$f" || why+=("${page[$p]} has no .Dt $title ${f##*.}")
	grep -qx "\.Nm $p" "$f" || why+=("${page[$p]} has no .Nm $p")
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qx "\.Sh $s" "$f" || why+=("${page[$p]} has no $s section")
	done
done
case_end "each page has its title and the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES and SEE ALSO"

# The options --help prints, one a line, sorted.
help_options() {
	sed -E 's/(--[A-Za-z0-9-]+)\[-([A-Za-z0-9]+)\]/\1 \1-\2/g' |
		grep -oE '(^|[][ (|,])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[][ (|,]//' | sort -u
}

# The options a page marks up with Fl, one a line, sorted: the word after each Fl on
# a macro line, when it is an option's name and not a macro or a bare "-".
page_options() {
	awk '/^\.\\"/ { next }
	     /^\./ {
		for (i = 1; i < NF; i++)
			if ($i == "Fl" || $i == ".Fl")
				if ($(i + 1) ~ /^-?[A-Za-z][A-Za-z0-9-]*$/ &&
				    $(i + 1) !~ /^(Ar|Cm|Fl|Ns|No|Oc|Oo|Op|Pa|Pq|Ql|Dq|Sq|Ev|Xr|Nm)$/)
					print "-" $(i + 1)
	     }' "$1" | sort -u
}

for p in "${programs[@]}"; do
	run "${path[$p]}" --help
	expect_status 0
	from_help=$(help_options <<<"$out")
	from_page=$(page_options "$root/${page[$p]}")
	[[ -n $from_help ]] || why+=("$p --help lists no option")
	only_help=$(comm -23 <(echo "$from_help") <(echo "$from_page") | tr '\n' ' ')
	only_page=$(comm -13 <(echo "$from_help") <(echo "$from_page") | tr '\n' ' ')
	[[ -z $only_help ]] || why+=("in $p --help but not in ${page[$p]}: $only_help")
	[[ -z $only_page ]] || why+=("in ${page[$p]} but not in $p --help: $only_page")
	case_end "${page[$p]##*/} names every option $p --help lists, and no other"
done

finish
