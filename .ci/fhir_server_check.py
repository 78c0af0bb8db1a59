#!/usr/bin/env python3
"""Post transaction bundles to a FHIR server on loopback and check what it holds.

Usage: python3 .ci/fhir_server_check.py [--count-only] URL DIR
Every bundle in DIR must be accepted as a whole (HTTP 200, every entry 2xx). Then, for each
resource type, the server's count (`_summary=count`) must equal the number of distinct
resources the bundles create: conditional creates of organizations, practitioners and
locations must not duplicate them. Prints `N passed, M failed` (bundles and type counts).
With --count-only nothing is posted: only the counts are checked (after `ehrsim upload`), so
a bundle lost or posted twice shows as a mismatch.
"""
import json
import sys
import urllib.request
from collections import defaultdict
from pathlib import Path


def request(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/fhir+json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main(base, directory, post=True):
    base = base.rstrip("/")
    passed = failed = 0
    expected = defaultdict(set)
    for path in sorted(Path(directory).glob("*.json")):
        bundle = json.loads(path.read_text())
        for entry in bundle["entry"]:
            r = entry["resource"]
            key = entry["request"].get("ifNoneExist") or r["id"]
            expected[r["resourceType"]].add(key)
        if not post:
            continue
        status, response = request("POST", base + "/", bundle)
        statuses = [e.get("response", {}).get("status", "") for e in response.get("entry", [])]
        if status == 200 and statuses and all(s.startswith("2") for s in statuses):
            passed += 1
        else:
            failed += 1
            print(f"{path.name}: HTTP {status}: {json.dumps(response)[:400]}")
    for kind, keys in sorted(expected.items()):
        status, response = request("GET", f"{base}/{kind}?_summary=count")
        total = response.get("total")
        ok = status == 200 and total == len(keys)
        print(f"{kind}: server holds {total}, bundles create {len(keys)}{'' if ok else '  MISMATCH'}")
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--count-only"]
    sys.exit(main(args[0], args[1], post="--count-only" not in sys.argv[1:]))
