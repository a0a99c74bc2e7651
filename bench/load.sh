#!/usr/bin/env bash
# Sustained load on the web application from a second process (wrk, loopback only):
# the dashboard (read) and a flag toggle (write, with the session's CSRF token), 32
# connections for DURATION seconds each. Prints wrk's throughput and latency percentiles,
# the error counts, and the server's peak memory.
#
#   bench/load.sh [DB] [DURATION]      (default: a fresh 3,000-person demo, 60 s)
#
# Needs wrk (apt-get install wrk) and a release build (cargo build --release -p refuge).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${2:-60}
port=18181
export REFUGE_PASSPHRASE=${REFUGE_PASSPHRASE:-synthetic load passphrase}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
if curl -s -o /dev/null "http://127.0.0.1:$port/login"; then
    echo "port $port is already in use" >&2
    exit 1
fi
if [ -n "${1:-}" ]; then
    target/release/refuge --db "$1" serve --listen 127.0.0.1:$port > "$work/server.log" 2>&1 &
else
    target/release/refuge serve --demo --listen 127.0.0.1:$port > "$work/server.log" 2>&1 &
fi
server=$!
for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/login" && break
    sleep 0.1
done
curl -s -c "$work/jar" -o /dev/null -d "user=coordinator&passphrase=${REFUGE_PASSPHRASE// /+}" "http://127.0.0.1:$port/login"
cookie=$(awk '$6 == "refuge" { print "refuge=" $7 }' "$work/jar")
page=$(curl -s -b "$work/jar" "http://127.0.0.1:$port/people?stage=sheltered")
csrf=$(grep -m1 -o 'name="csrf" value="[0-9a-f]*"' <<< "$page" | sed 's/.*value="//; s/"//')
person=$(grep -m1 -o 'href="/people/P-[0-9A-Z]*"' <<< "$page" | sed 's/.*people\///; s/"//')
echo "== dashboard, 32 connections, ${duration}s"
wrk -t2 -c32 -d"${duration}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port/dashboard"
cat > "$work/flag.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "$cookie"
local on = "yes"
request = function()
  on = (on == "yes") and "no" or "yes"
  return wrk.format(nil, "/people/$person/flag", nil, "csrf=$csrf&flag=disability&on=" .. on)
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 303 and not statuses["shown"] then
    statuses["shown"] = 1
    local problem = string.match(body, 'class="problem"[^>]*>([^<]*)') or string.match(body, "<p>([^<]*)</p>") or ""
    io.write("first non-303 answer: ", status, " ", problem, "\\n")
  end
end
done = function(summary, latency, requests)
  for status, count in pairs(statuses) do
    if status ~= "shown" then io.write("status ", status, ": ", count, "\\n") end
  end
end
LUA
echo "== flag toggle on $person (a write: one event per request), 32 connections, ${duration}s"
wrk -t2 -c32 -d"${duration}s" --latency -s "$work/flag.lua" "http://127.0.0.1:$port"
echo "== server"
grep -E "VmHWM|VmRSS" "/proc/$server/status"
kill "$server"; wait "$server" 2>/dev/null || true
