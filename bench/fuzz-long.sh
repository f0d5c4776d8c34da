#!/bin/bash
# fuzz-long.sh [SECONDS] - every fuzz target of tests/fuzz/run.sh for as long as asked (default
# 300 s each, the issue-12 bar), FUZZ_JOBS at once (default 1; on a shared machine keep it
# small). The corpora in build-fuzz/corpus-* grow from run to run, so longer runs build on
# shorter ones. Prints the run.sh lines: "PASS fuzz_NAME (N runs in S s)" per target.
set -u
here=$(cd "$(dirname "$0")" && pwd)
FUZZ_TIME=${1:-${FUZZ_TIME:-300}} exec nice -n 10 "$here/../tests/fuzz/run.sh"
