#!/usr/bin/env bash
# `ehrsim report` in a real browser, and `ehrsim marginals` end to end. Needs python3 (stdlib
# only) and installs Debian's chromium when it is missing; not ../shared.
#
#   bash .ci/report_check.sh            # uses target/release/ehrsim (EHRSIM=... to change)
#
# Checks:
#   1. stats JSON of two 2,000-patient runs (before/after) against a targets file make a report
#      with the four plot sections (pyramid, prevalence, subgroups, passfail)
#   2. headless Chromium loads it (its DOM has the sections) and its screenshot is not blank
#      (many distinct colours and a fair share of non-white pixels)
#   3. `ehrsim marginals` on the example extract writes private targets that `ehrsim stats`
#      reads (and reports with --html); a second release past the budget is refused (exit 1)
# Every browser call is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
EHRSIM="${EHRSIM:-target/release/ehrsim}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

browser() {
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then
      command -v "$b"
      return 0
    fi
  done
  return 1
}

if ! browser >/dev/null; then
  echo "installing chromium (Debian)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null 2>&1 || echo "warning: apt-get update failed; trying the lists we have" >&2
  $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
CHROMIUM=$(browser)
"$CHROMIUM" --version 2>/dev/null || true

headless() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d -p "$W")" "$@"
}

sections() {
  for id in pyramid prevalence subgroups passfail; do
    grep -q "<section id=\"$id\"" "$1" || { echo "FAIL: $1 has no section #$id" >&2; exit 1; }
  done
}

# 1. The report of a before/after pair.
TARGETS=examples/targets/realism.yaml
if [ ! -f "$TARGETS" ]; then
  TARGETS="$W/targets.yaml"
  printf 'targets:\n  - id: diabetes\n    measure: prevalence\n    codes: ["44054006"]\n    population: { age: 18+ }\n    strata:\n      - { sex: M, value: 11.6 }\n      - { sex: F, value: 8.8 }\n' >"$TARGETS"
fi
"$EHRSIM" stats -p 2000 -s 1 -r 2025-01-01 -q --targets "$TARGETS" --json "$W/after.json" >/dev/null
"$EHRSIM" stats -p 2000 -s 2 -r 2025-01-01 -q --targets "$TARGETS" --json "$W/before.json" >/dev/null
"$EHRSIM" report --stats "$W/after.json" --before "$W/before.json" --title "ehrsim CI report" -o "$W/report.html"
sections "$W/report.html"
for chart in pyramid-chart prevalence-0 subgroups-0 subgroups-1 subgroups-2 subgroups-3; do
  grep -q "id=\"$chart\"" "$W/report.html" || { echo "FAIL: no chart #$chart" >&2; exit 1; }
done
if grep -Eq '<script|<link|<img|src=' "$W/report.html"; then
  echo "FAIL: the report is not self-contained" >&2
  exit 1
fi

# 2. In the browser.
headless --dump-dom "file://$W/report.html" 2>/dev/null >"$W/dom.html"
sections "$W/dom.html"
headless --screenshot="$W/shot.png" --window-size=1280,2000 "file://$W/report.html" >/dev/null 2>&1
test -s "$W/shot.png" || { echo "FAIL: no screenshot" >&2; exit 1; }
python3 - "$W/shot.png" <<'PY'
import struct, sys, zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, header = 8, b"", None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
width, height, depth, colour, _, _, interlace = header
assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), f"unexpected PNG format {header}"
bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
colours, ink = set(), 0
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 255
        elif f == 4:
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 2):
        px = bytes(line[x:x + bpp])
        colours.add(px)
        if min(px[:3] if bpp >= 3 else px[:1]) < 235:
            ink += 1
    prev = line
share = ink / (width * height / 2)
print(f"screenshot {width}x{height}: {len(colours)} distinct colours, {100 * share:.1f} % non-white pixels")
assert len(colours) > 50, "the screenshot is (nearly) blank"
assert share > 0.02, "the screenshot is (nearly) blank"
PY

# 3. Private marginals, read back by stats, and the budget.
"$EHRSIM" marginals --input examples/marginals/extract.csv --epsilon 1 --budget 1.5 \
  --codes diabetes=44054006,asthma=195967001 --age-bands 18,45,65 -o "$W/private.yaml"
test -s "$W/private.yaml.privacy.json"
"$EHRSIM" stats -p 1000 -s 1 -r 2025-01-01 -q --targets "$W/private.yaml" --top 0 --html "$W/private.html" >/dev/null
sections "$W/private.html"
set +e
"$EHRSIM" marginals --input examples/marginals/extract.csv --epsilon 1 \
  --codes diabetes=44054006,asthma=195967001 -o "$W/again.yaml" 2>"$W/refused.txt"
code=$?
set -e
if [ "$code" -ne 1 ] || ! grep -q "over budget" "$W/refused.txt" || [ -e "$W/again.yaml" ]; then
  echo "FAIL: a release past the budget was not refused (exit $code)" >&2
  cat "$W/refused.txt" >&2
  exit 1
fi
printf 'report: %s bytes of HTML; marginals: refused past the budget as expected\n' "$(wc -c <"$W/report.html")"
echo "report check: 3 passed, 0 failed"
