#!/usr/bin/env bash
# `ehrsim upload` against a real FHIR server on loopback (.ci/fhir-server: Medplum's FHIR
# router behind a small node wrapper, 127.0.0.1 only). Needs node and npm; not ../shared.
#
#   bash .ci/upload_check.sh            # uses target/release/ehrsim (EHRSIM=... to change)
#
# Checks, each by the server's own counts (FHIR search, `_summary=count`):
#   1. 200 generated patients load: exactly the expected number of each resource type;
#      `--resume` afterwards posts nothing
#   2. the server is killed mid-upload and restarted (its journal keeps what it acknowledged);
#      `--resume` completes with no bundle lost and none posted twice
#   3. the uploader itself is killed mid-upload; `--resume` completes, same proof
#   4. 503s for a while, and 429 with Retry-After, are ridden out by retries
#   5. bulk mode (`--ndjson`): counts equal the NDJSON lines, and posting again changes nothing
#   6. bad input: unreachable server, a non-FHIR endpoint, bad credentials, malformed or
#      missing directories: a clear message and a non-zero exit, never a panic
# Every wait is bounded; every server listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
EHRSIM="${EHRSIM:-target/release/ehrsim}"
EHRSIM="$(cd "$(dirname "$EHRSIM")" && pwd)/$(basename "$EHRSIM")"
PY="${PYTHON:-python3}"
W=$(mktemp -d)
PIDS=()
passed=0
failed=0
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

if [ ! -d .ci/fhir-server/node_modules/@medplum/fhir-router ]; then
  (cd .ci/fhir-server && timeout 600 npm ci --no-audit --no-fund --silent)
fi

# start_server NAME [ENV=VALUE...]: starts the server on a new port (journal $W/NAME.jsonl),
# sets $URL and $SERVER (its pid), waits until it listens (30 s at most).
start_server() {
  local name=$1
  shift
  PORT=${PORT_OVERRIDE:-$(free_port)}
  (cd .ci/fhir-server && exec env FHIR_SERVER_DATA="$W/$name.jsonl" "$@" node server.mjs "$PORT") >"$W/$name.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  URL="http://127.0.0.1:$PORT"
  for _ in $(seq 1 150); do
    if grep -q "listening on http://127.0.0.1:$PORT" "$W/$name.log" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "the FHIR server did not start:" >&2
  cat "$W/$name.log" >&2
  return 1
}
stop_server() { kill -9 "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
counts() { timeout 300 "$PY" .ci/fhir_server_check.py --count-only "$URL" "$1" >"$W/counts.txt" 2>&1; }
accepted_lines() {
  local n
  n=$(grep -c '"event":"accepted"' "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

echo "ehrsim: $EHRSIM"
timeout 600 "$EHRSIM" -p 200 -s 7 -r 2024-06-30 --format fhir,ndjson -o "$W/run" -q >/dev/null
timeout 600 "$EHRSIM" -p 20 -s 11 -r 2024-06-30 --format fhir -o "$W/small" -q >/dev/null

echo "--- 1. 200 patients, exact counts"
start_server one
set +e
timeout 600 "$EHRSIM" upload "$W/run" --server "$URL" -c 4 -q --report "$W/one.json" >"$W/one.out" 2>&1
code=$?
set -e
cat "$W/one.out"
check "upload of 200 patients exits 0" '[ "$code" -eq 0 ]'
check "report: 201 accepted (200 patients + the provider directory), 0 failed" \
  '[ "$(json "$W/one.json" "r[\"items\"][\"accepted\"], r[\"items\"][\"failed\"]")" = "201 0" ]'
if counts "$W/run/fhir"; then ok "server holds exactly the expected count of every resource type"; else bad "counts after upload"; fi
tail -4 "$W/counts.txt"
timeout 300 "$EHRSIM" upload "$W/run" --server "$URL" --resume -q --report "$W/again.json" >/dev/null 2>&1 || true
check "--resume after a complete upload sends nothing" \
  '[ "$(json "$W/again.json" "r[\"items\"][\"sent\"], r[\"items\"][\"skipped\"]")" = "0 201" ]'
set +e
timeout 60 "$EHRSIM" upload "$W/run" --server "$URL" -q >"$W/twice.out" 2>&1
code=$?
set -e
check "a second upload without --resume or --restart is refused (exit 2)" \
  '[ "$code" -eq 2 ] && grep -q "pass --resume" "$W/twice.out"'
if counts "$W/run/fhir"; then ok "counts unchanged"; else bad "counts changed"; fi
stop_server

echo "--- 2. the server is killed mid-upload, restarted, and the upload resumed"
cp -r "$W/run" "$W/kill"
rm -f "$W/kill/upload-ledger.jsonl"
start_server kill FHIR_SERVER_DELAY_MS=40
PORT_OVERRIDE=$PORT
set +e
timeout 600 "$EHRSIM" upload "$W/kill" --server "$URL" -c 4 -q --max-attempts 3 --max-retry-time 5 >"$W/kill1.out" 2>&1 &
client=$!
PIDS+=("$client")
for _ in $(seq 1 600); do
  [ "$(accepted_lines "$W/kill/upload-ledger.jsonl")" -ge 60 ] && break
  sleep 0.05
done
stop_server
wait "$client"
code=$?
set -e
n=$(accepted_lines "$W/kill/upload-ledger.jsonl")
echo "server killed after $n bundles were acknowledged; the upload exited $code"
tail -3 "$W/kill1.out"
check "the interrupted upload exits non-zero" '[ "$code" -ne 0 ]'
check "it was interrupted mid-way" '[ "$n" -ge 60 ] && [ "$n" -lt 201 ]'
start_server kill
unset PORT_OVERRIDE
grep "replayed" "$W/kill.log" | tail -1
set +e
timeout 600 "$EHRSIM" upload "$W/kill" --server "$URL" --resume -c 4 -q --report "$W/kill2.json" >"$W/kill2.out" 2>&1
code=$?
set -e
cat "$W/kill2.out"
check "--resume after the restart exits 0" '[ "$code" -eq 0 ]'
check "--resume posted only what was missing" \
  '[ "$(json "$W/kill2.json" "r[\"items\"][\"skipped\"] + r[\"items\"][\"accepted\"] == 201 and r[\"items\"][\"skipped\"] >= 60")" = "True" ]'
if counts "$W/kill/fhir"; then ok "after kill + restart + resume: no bundle lost, none twice"; else bad "counts after kill + resume"; fi
tail -4 "$W/counts.txt"
stop_server

echo "--- 3. the uploader is killed mid-upload, then resumed"
cp -r "$W/run" "$W/crash"
rm -f "$W/crash/upload-ledger.jsonl"
start_server crash FHIR_SERVER_DELAY_MS=40
set +e
# no `timeout` wrapper here: killing it would leave the uploader running. The wait below is
# bounded and the uploader is killed after it.
"$EHRSIM" upload "$W/crash" --server "$URL" -c 4 -q >/dev/null 2>&1 &
client=$!
PIDS+=("$client")
for _ in $(seq 1 600); do
  [ "$(accepted_lines "$W/crash/upload-ledger.jsonl")" -ge 60 ] && break
  sleep 0.05
done
kill -9 "$client"
wait "$client" 2>/dev/null
set -e
n=$(accepted_lines "$W/crash/upload-ledger.jsonl")
echo "uploader killed after $n bundles were acknowledged"
sleep 1 # requests the server had in hand finish
set +e
timeout 600 "$EHRSIM" upload "$W/crash" --server "$URL" --resume -c 4 -q --report "$W/crash.json" >"$W/crash.out" 2>&1
code=$?
set -e
cat "$W/crash.out"
check "--resume after a crash exits 0" '[ "$code" -eq 0 ]'
if counts "$W/crash/fhir"; then ok "after a crash + resume: no bundle lost, none twice"; else bad "counts after crash + resume"; fi
tail -4 "$W/counts.txt"
stop_server

echo "--- 4. 503 for a while, then 429 with Retry-After"
# three requests answered, then eight 503s: with 9 attempts per bundle no bundle can run out
start_server busy FHIR_SERVER_FAIL_SKIP=3 FHIR_SERVER_FAIL_FIRST=8
set +e
timeout 300 "$EHRSIM" upload "$W/small" --server "$URL" -c 2 --max-attempts 9 -q --report "$W/busy.json" >"$W/busy.out" 2>&1
code=$?
set -e
cat "$W/busy.out"
check "eight 503s mid-upload are ridden out (exit 0, all accepted)" \
  '[ "$code" -eq 0 ] && [ "$(json "$W/busy.json" "r[\"items\"][\"accepted\"], r[\"status_codes\"].get(\"503\"), r[\"retries\"]")" = "21 8 8" ]'
if counts "$W/small/fhir"; then ok "counts after the 503s"; else bad "counts after the 503s"; fi
stop_server
rm -f "$W/small/upload-ledger.jsonl"
start_server slow FHIR_SERVER_FAIL_SKIP=1 FHIR_SERVER_FAIL_FIRST=3 FHIR_SERVER_FAIL_STATUS=429 FHIR_SERVER_RETRY_AFTER=1
set +e
timeout 300 "$EHRSIM" upload "$W/small" --server "$URL" -c 1 -q --report "$W/slow.json" >"$W/slow.out" 2>&1
code=$?
set -e
check "429 with Retry-After: 1 is honoured (three waits of a second)" \
  '[ "$code" -eq 0 ] && [ "$(json "$W/slow.json" "r[\"status_codes\"].get(\"429\"), r[\"elapsed_s\"] >= 3")" = "3 True" ]'
stop_server

echo "--- 5. bulk mode: NDJSON as batches of PUTs"
start_server bulk
set +e
timeout 600 "$EHRSIM" upload --ndjson "$W/run" --server "$URL" -c 4 -q --report "$W/bulk.json" >"$W/bulk.out" 2>&1
code=$?
timeout 600 "$EHRSIM" upload --ndjson "$W/run" --server "$URL" -c 4 -q --restart >/dev/null 2>&1
code2=$?
set -e
cat "$W/bulk.out"
check "--ndjson upload exits 0, twice" '[ "$code" -eq 0 ] && [ "$code2" -eq 0 ]'
if timeout 300 "$PY" - "$URL" "$W/run/ndjson" >"$W/bulk.txt" 2>&1 <<'EOF'; then
import json, sys, urllib.request
from pathlib import Path
base, folder = sys.argv[1], Path(sys.argv[2])
bad = 0
for f in sorted(folder.glob("*.ndjson")):
    lines = sum(1 for line in f.read_text().splitlines() if line.strip())
    with urllib.request.urlopen(f"{base}/{f.stem}?_summary=count", timeout=60) as r:
        total = json.load(r)["total"]
    if total != lines:
        bad += 1
        print(f"{f.stem}: server holds {total}, NDJSON has {lines}")
sys.exit(1 if bad else 0)
EOF
  ok "bulk: the server holds exactly the NDJSON's resources, even after posting them twice"
else
  bad "bulk counts"
  cat "$W/bulk.txt"
fi
stop_server

echo "--- 6. bad input"
closed=$(free_port)
expect_error() { # NAME CODE PATTERN COMMAND...
  local name=$1 want=$2 pattern=$3
  shift 3
  set +e
  timeout 120 "$@" >"$W/err.out" 2>"$W/err.txt"
  local code=$?
  set -e
  if [ "$code" -eq "$want" ] && grep -q -- "$pattern" "$W/err.txt" && ! grep -q panicked "$W/err.txt"; then
    ok "$name: exit $code, $(head -1 "$W/err.txt")"
  else
    bad "$name: exit $code (wanted $want and /$pattern/)"
    cat "$W/err.txt"
  fi
}
rm -f "$W/small/upload-ledger.jsonl"
expect_error "unreachable server" 3 "cannot reach" "$EHRSIM" upload "$W/small" --server "http://127.0.0.1:$closed" -q
mkdir -p "$W/www"
echo '<html><body>hello</body></html>' >"$W/www/metadata"
www=$(free_port)
(cd "$W/www" && exec "$PY" -m http.server --bind 127.0.0.1 "$www") >"$W/www.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$www/" && break; sleep 0.1; done
expect_error "a non-FHIR endpoint" 3 "is not a FHIR server" "$EHRSIM" upload "$W/small" --server "http://127.0.0.1:$www" -q
start_server auth FHIR_SERVER_TOKEN=s3cret-token
expect_error "no credentials" 3 "refused the credentials" "$EHRSIM" upload "$W/small" --server "$URL" -q
export EHRSIM_TEST_TOKEN=wr0ng-token
expect_error "a wrong bearer token" 3 "refused the credentials" "$EHRSIM" upload "$W/small" --server "$URL" --bearer-env EHRSIM_TEST_TOKEN -q
check "the token is never printed" '! grep -q wr0ng-token "$W/err.txt" "$W/err.out"'
export EHRSIM_TEST_TOKEN=s3cret-token
set +e
timeout 300 "$EHRSIM" upload "$W/small" --server "$URL" --bearer-env EHRSIM_TEST_TOKEN -q >"$W/auth.out" 2>&1
code=$?
set -e
check "the right bearer token is accepted" '[ "$code" -eq 0 ] && ! grep -q s3cret-token "$W/auth.out"'
stop_server
mkdir -p "$W/broken/fhir"
echo '{"resourceType": "Bundle", "type": "transaction", "entry": [' >"$W/broken/fhir/cut.json"
expect_error "a malformed bundle" 1 "is not a FHIR transaction bundle" "$EHRSIM" upload "$W/broken" --server "http://127.0.0.1:$closed" -q
mkdir -p "$W/empty"
expect_error "a directory without bundles" 1 "no FHIR bundles" "$EHRSIM" upload "$W/empty" --server "http://127.0.0.1:$closed" -q
expect_error "a missing directory" 1 "is not a directory" "$EHRSIM" upload "$W/nowhere" --server "http://127.0.0.1:$closed" -q
expect_error "a server URL without a scheme" 2 "invalid --server" "$EHRSIM" upload "$W/small" --server "127.0.0.1:$closed" -q

echo
echo "upload: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
