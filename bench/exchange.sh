#!/usr/bin/env bash
# Exchange bundles at scale (issue: exchange bundles): a bundle with the full history of every
# person of a demo organisation, exported to a peer and checked there, against a plain
# `sqlite3 .dump` of the same rows compressed with gzip (size) and `refuge import people` of
# the same people from CSV (rate); and a 10,000-stanza header refused before any cryptography.
#
#   bench/exchange.sh [PEOPLE] [ROUNDS]       (default: 100,000 people, 3 rounds)
#
# Needs a release build (cargo build --release -p refuge -p refuge-bench), Debian's sqlite3
# and gzip. Prints min / median / max of each timing and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
people=${1:-100000}
rounds=${2:-3}
export REFUGE_PASSPHRASE=${REFUGE_PASSPHRASE:-synthetic bench passphrase}
refuge=$PWD/target/release/refuge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_dir=$PWD
cd "$work"

stats() { # name, then seconds per round
    local name=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v name="$name" '
        { t[NR] = $1 } END { printf "%-34s min %.3f s  median %.3f s  max %.3f s\n", name, t[1], t[int((NR + 1) / 2)], t[NR] }'
}
seconds() { # runs the command, prints its wall time
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

echo "== a demo organisation of $people people, and a reception office"
"$refuge" --db shelter.db demo --people "$people" --seed 17 > /dev/null
"$refuge" --db reception.db init > /dev/null
shelter_key=$("$refuge" --db shelter.db node keys | sed -n 's/^Device key: *//p')
reception_key=$("$refuge" --db reception.db node keys | sed -n 's/^Device key: *//p')
"$refuge" --db shelter.db peer add reception --key "$reception_key" > /dev/null
"$refuge" --db reception.db peer add shelter-net --key "$shelter_key" > /dev/null
locations=()
for code in $("$refuge" --db shelter.db location list | awk 'NR > 1 { print $1 }'); do
    locations+=(--location "$code")
done

export_times=() inspect_times=() import_times=()
for round in $(seq 1 "$rounds"); do
    export_times+=("$(seconds "$refuge" --db shelter.db bundle export --to reception "${locations[@]}" --out "all-$round.bundle")")
    inspect_times+=("$(seconds "$refuge" --db reception.db bundle inspect "all-$round.bundle")")
    # Each merge into a fresh copy of the reception office (made after the demo: its own
    # events are newer, so the merge folds everything).
    cp reception.db "import-$round.db"
    import_times+=("$(seconds "$refuge" --db "import-$round.db" bundle import "all-$round.bundle")")
done
"$refuge" --db import-1.db verify | tail -n 1
"$refuge" --db reception.db bundle inspect all-1.bundle
bundle_bytes=$(stat -c %s all-1.bundle)
dump_bytes=$(sqlite3 shelter.db '.dump events people households locations record_keys' | gzip -c | wc -c)
echo "bundle: $bundle_bytes bytes; sqlite3 .dump of events, people, households, locations and record keys, gzip: $dump_bytes bytes; ratio $(echo "scale=2; $bundle_bytes / $dump_bytes" | bc)"
stats "bundle export (all people)" "${export_times[@]}"
stats "bundle inspect (all people)" "${inspect_times[@]}"
stats "bundle import (all people)" "${import_times[@]}"
import_median=$(printf '%s\n' "${import_times[@]}" | sort -g | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
echo "bundle import: $(echo "$people / $import_median" | bc) people/s (median)"

echo "== import of the same number of people from CSV (refuge-bench import)"
(cd "$bench_dir" && target/release/refuge-bench import --people "$people" --rounds 1 | tail -n 4)

echo "== a 10,000-stanza header, refused before any cryptography and before the passphrase"
{
    printf 'age-encryption.org/v1\n'
    for _ in $(seq 1 10000); do printf -- '-> X25519 c3ludGhldGljIHN0YW56YQ\nc3ludGhldGljIGJvZHk\n'; done
    printf -- '--- c3ludGhldGlj\n'
} > stanzas.bundle
refusal_times=() baseline_times=()
for round in $(seq 1 11); do
    refusal_times+=("$(seconds sh -c "'$refuge' --db reception.db bundle inspect stanzas.bundle 2>/dev/null; true")")
    baseline_times+=("$(seconds "$refuge" --version)")
done
"$refuge" --db reception.db bundle inspect stanzas.bundle 2>&1 | tail -1 || true
stats "inspect of a 10,000-stanza header" "${refusal_times[@]}"
stats "refuge --version (process start)" "${baseline_times[@]}"
