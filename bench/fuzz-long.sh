#!/bin/bash
# fuzz-long.sh [SECONDS] - every fuzz target of tests/fuzz/run.sh, open-ended: for as long as
# asked (default 300 s each, the issue-12 bar), from a random seed, on the checked-in seeds and
# regression inputs plus this machine's own /proc files and ROMs, FUZZ_JOBS at once (default 1;
# on a shared machine keep it small); FUZZ_ONLY="a b" runs only those. The corpora in
# build-fuzz/corpus-* grow from run to run, so longer runs build on shorter ones (make check's
# fixed runs never read them). Prints "PASS fuzz_NAME (N runs in S s, ...)" per target; a crash
# input found here belongs in tests/fuzz/regress/TARGET/ once its bug is fixed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
FUZZ_TIME=${1:-${FUZZ_TIME:-300}} exec nice -n 10 "$here/../tests/fuzz/run.sh"
