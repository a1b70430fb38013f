# tap.sh - sourced by the shell tests (tests/cli, tests/cross): a plan, numbered cases, exact comparisons.
# A case is `run CMD...` (captures stdout, stderr and status) followed by `expect_*`
# checks; `case_end NAME` prints "ok N - NAME" or "not ok N - NAME" with the reasons.

n=0 failures=0 why=()
out='' err='' status=0
tmp=$(mktemp -d /tmp/clientapi-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

plan() { echo "1..$1"; }

run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

expect_status() { [[ $status -eq $1 ]] || why+=("exit status $status, expected $1"); }
expect_out() { [[ $out == "$1" ]] || why+=("stdout: $(printf '%q' "$out")" "expected: $(printf '%q' "$1")"); }
expect_err() { [[ $err == "$1" ]] || why+=("stderr: $(printf '%q' "$err")" "expected: $(printf '%q' "$1")"); }
expect_out_match() { [[ $out =~ $1 ]] || why+=("stdout: $(printf '%q' "$out")" "does not match: $1"); }

case_end() {
	n=$((n + 1))
	if [[ ${#why[@]} -eq 0 ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		# Every line of every reason as a TAP comment, so that none reads as a result.
		printf '%s\n' "${why[@]}" | sed 's/^/# /'
		failures=$((failures + 1))
	fi
	why=()
}

finish() { exit $((failures > 0)); }
