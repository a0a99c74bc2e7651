#!/usr/bin/env bash
# Page times on two databases, side by side: each page fetched ROUNDS times from two
# `refuge serve` processes (A and B), alternating, timed by curl from first byte sent to last
# byte received. Prints min/median/max per page and database, and the ratio B/A of medians.
#
#   bench/pages.sh A.db B.db [ROUNDS]     (URLs work too: postgres://…)
#
# The pages: the coordinator's dashboard, the people list (first page, and a page deep in
# the list: after a mid-range waiting start), the page of one person with 50 case notes and
# 20 incidents (written into each database first, once: the person is remembered in the
# database's own notes), and the caseworker's dashboard.
#
# Needs a release build (cargo build --release -p refuge) and curl. Every demo user has the
# passphrase REFUGE_PASSPHRASE.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 rounds=${3:-30}
export REFUGE_PASSPHRASE=${REFUGE_PASSPHRASE:-synthetic bench passphrase}
refuge=target/release/refuge
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# One sheltered person at SHL-BKK-1 (the caseworker's compartment) with 50 notes and 20
# incidents; a database that has one already (a note saying so) keeps it.
prepare() { # db -> person code
    local db=$1 code
    code=$("$refuge" --db "$db" --user coordinator person list --location SHL-BKK-1 \
        --stage sheltered --limit 1 --json | grep -o '"code": *"P-[0-9A-Z]*"' | head -1 | grep -o 'P-[0-9A-Z]*')
    if [ "$("$refuge" --db "$db" --user coordinator note list "$code" | tail -1)" != "50 notes." ]; then
        for n in $(seq 1 50); do
            echo "Synthetic bench note $n" >"$work/note"
            "$refuge" --db "$db" --user coordinator note add "$code" --text-file "$work/note" >/dev/null
        done
        for _ in $(seq 1 20); do
            "$refuge" --db "$db" --user coordinator incident add --location SHL-BKK-1 \
                --kind conflict --severity 2 --people "$code" >/dev/null
        done
    fi
    echo "$code"
}
start() { # db port user
    "$refuge" --db "$1" serve --listen "127.0.0.1:$2" >"$work/server-$2.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$2/login" && break
        sleep 0.1
    done
    for user in coordinator caseworker; do
        curl -s -c "$work/jar-$2-$user" -o /dev/null \
            --data-urlencode "user=$user" --data-urlencode "passphrase=$REFUGE_PASSPHRASE" \
            -H "Origin: http://127.0.0.1:$2" "http://127.0.0.1:$2/login"
    done
}
person_a=$(prepare "$a")
person_b=$(prepare "$b")
start "$a" 18301
start "$b" 18302
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f", v[1]*1000, v[int((NR+1)/2)]*1000, v[NR]*1000 }'; }
# name | user | path on A | path on B
while IFS='|' read -r name user path_a path_b; do
    for _ in 1 2; do # warm up
        curl -s -b "$work/jar-18301-$user" -o /dev/null "http://127.0.0.1:18301$path_a"
        curl -s -b "$work/jar-18302-$user" -o /dev/null "http://127.0.0.1:18302$path_b"
    done
    for _ in $(seq 1 "$rounds"); do
        curl -s -b "$work/jar-18301-$user" -o /dev/null -w "%{time_total}\n" \
            "http://127.0.0.1:18301$path_a" >>"$work/times-a"
        curl -s -b "$work/jar-18302-$user" -o /dev/null -w "%{time_total}\n" \
            "http://127.0.0.1:18302$path_b" >>"$work/times-b"
    done
    read -r amin amed amax <<<"$(stats "$work/times-a")"
    read -r bmin bmed bmax <<<"$(stats "$work/times-b")"
    printf "%-24s A min %6.1f median %6.1f max %6.1f ms | B min %6.1f median %6.1f max %6.1f ms | B/A median %.2f\n" \
        "$name" "$amin" "$amed" "$amax" "$bmin" "$bmed" "$bmax" "$(awk -v a="$amed" -v b="$bmed" 'BEGIN { print b / a }')"
    rm -f "$work/times-a" "$work/times-b"
done <<EOF
dashboard (coordinator)|coordinator|/dashboard|/dashboard
people, page 1|coordinator|/people|/people
people, deep page|coordinator|/people?after=2026-09-01.P-00000|/people?after=2026-09-01.P-00000
person, 50 notes, 20 inc.|coordinator|/people/$person_a|/people/$person_b
dashboard (caseworker)|caseworker|/dashboard|/dashboard
EOF
