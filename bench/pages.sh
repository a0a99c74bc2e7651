#!/usr/bin/env bash
# Page times on two databases, side by side: each page fetched ROUNDS times from two
# `refuge serve` processes (A and B), alternating, timed by curl from first byte sent to last
# byte received. Prints min/median/max per page and database, and the ratio B/A of medians.
#
#   bench/pages.sh A.db B.db [ROUNDS]     (URLs work too: postgres://…)
#
# Needs a release build (cargo build --release -p refuge) and curl. Logs in as coordinator
# with REFUGE_PASSPHRASE.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 rounds=${3:-30}
export REFUGE_PASSPHRASE=${REFUGE_PASSPHRASE:-synthetic bench passphrase}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
start() { # db port
    target/release/refuge --db "$1" serve --listen "127.0.0.1:$2" >"$work/server-$2.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$2/login" && break
        sleep 0.1
    done
    curl -s -c "$work/jar-$2" -o /dev/null \
        --data-urlencode "user=coordinator" --data-urlencode "passphrase=$REFUGE_PASSPHRASE" \
        "http://127.0.0.1:$2/login"
}
start "$a" 18301
start "$b" 18302
for path in /dashboard /people "/people?stage=sheltered"; do
    for port in 18301 18302; do # warm up
        curl -s -b "$work/jar-$port" -o /dev/null "http://127.0.0.1:$port$path"
    done
    for _ in $(seq 1 "$rounds"); do
        for port in 18301 18302; do
            curl -s -b "$work/jar-$port" -o /dev/null -w "%{time_total}\n" \
                "http://127.0.0.1:$port$path" >>"$work/times-$port"
        done
    done
    stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", v[1]*1000, v[int((NR+1)/2)]*1000, v[NR]*1000 }'; }
    read -r amin amed amax <<<"$(stats "$work/times-18301")"
    read -r bmin bmed bmax <<<"$(stats "$work/times-18302")"
    printf "%-26s A min %6.1f median %6.1f max %6.1f ms | B min %6.1f median %6.1f max %6.1f ms | B/A median %.2f\n" \
        "$path" "$amin" "$amed" "$amax" "$bmin" "$bmed" "$bmax" "$(awk -v a="$amed" -v b="$bmed" 'BEGIN { print b / a }')"
    rm -f "$work/times-18301" "$work/times-18302"
done
