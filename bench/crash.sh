#!/usr/bin/env bash
# The crash harness at benchmark size: CYCLES commands (an import, a household's move, an
# incident, a full re-seal, in turn) killed with SIGKILL at spread moments while `refuge serve`
# takes case notes through the API, every kill followed by verify and the checks of the test
# `commands_killed_at_any_moment_leave_nothing_half_done_and_lose_nothing_acknowledged`
# (crates/cli/tests/cli/durability.rs), which CI runs with 24 cycles. Prints the cycles run, how many
# were killed and how many finished, and the wall time.
#
#   bench/crash.sh [CYCLES]      (default 1000; a release build of the test binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-1000}
start=$(date +%s)
REFUGE_CRASH_CYCLES=$cycles cargo test --release -q -p refuge --test cli -- \
    commands_killed_at_any_moment --nocapture 2>&1 | grep -E "crash harness|test result|panicked|assert"
echo "wall: $(( $(date +%s) - start )) s for $cycles cycles (the build included when it ran)"
