#!/usr/bin/env bash
# Fill a FHIR server on loopback with synthetic patients at a set rate, and keep the report.
#
#   examples/load-test/run.sh [PATIENTS] [RATE] [CONCURRENCY]     (defaults: 10000 50 4)
#
# Starts the project's test server (.ci/fhir-server: Medplum's FHIR router in memory, with a
# journal) on 127.0.0.1, generates the patients, uploads them, checks the server's counts,
# and stops the server. Everything stays on this machine. Output in ./load-test-output/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATIENTS=${1:-10000}
RATE=${2:-50}
CONCURRENCY=${3:-4}
PORT=${PORT:-18095}
OUT=${OUT:-load-test-output}
EHRSIM=${EHRSIM:-target/release/ehrsim}
[ -x "$EHRSIM" ] || cargo build --release
[ -d .ci/fhir-server/node_modules/@medplum/fhir-router ] || (cd .ci/fhir-server && npm ci --no-audit --no-fund --silent)

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
(cd .ci/fhir-server && exec env FHIR_SERVER_DATA="$OUT/server-journal.jsonl" node --max-old-space-size=16384 server.mjs "$PORT") >"$OUT/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do grep -qs listening "$OUT/server.log" && break; sleep 0.2; done
grep -qs listening "$OUT/server.log" || { cat "$OUT/server.log" >&2; exit 1; }

"$EHRSIM" -p "$PATIENTS" -s 1 -r 2024-06-30 --format fhir -o "$OUT/run" -q
rate=()
[ "$RATE" = 0 ] || rate=(--rate "$RATE")
"$EHRSIM" upload "$OUT/run" --server "http://127.0.0.1:$PORT" --concurrency "$CONCURRENCY" "${rate[@]}" \
  --report "$OUT/report.json"
python3 .ci/fhir_server_check.py --count-only "http://127.0.0.1:$PORT" "$OUT/run/fhir" | tail -1
echo "report: $OUT/report.json"
