#!/usr/bin/env python3
"""Validate FHIR resources with fhir.resources 6.4.0 (the R4 4.0.1 models, pydantic 1).

Usage: python3 .ci/validate_fhir.py DIR...   (bundles *.json or bulk *.ndjson)
Prints the first errors, counts by resource type, and `N passed, M failed` (resources).
"""
import json
import sys
from collections import Counter
from pathlib import Path

from fhir.resources import construct_fhir_element


def main(dirs):
    passed = failed = shown = 0
    counts = Counter()

    def check(resource, where):
        nonlocal passed, failed, shown
        counts[resource["resourceType"]] += 1
        try:
            construct_fhir_element(resource["resourceType"], resource)
            passed += 1
        except Exception as e:  # noqa: BLE001 - any validation failure counts
            failed += 1
            if shown < 20:
                shown += 1
                print(f"{where} {resource['resourceType']}: {str(e)[:400]}")

    for d in dirs:
        for path in sorted(Path(d).iterdir()):
            if path.suffix == ".json":
                bundle = json.loads(path.read_text())
                check(bundle, path.name)
                for entry in bundle.get("entry", []):
                    check(entry["resource"], f"{path.name} {entry['fullUrl']}")
            elif path.suffix == ".ndjson":
                for line in path.read_text().splitlines():
                    if line.strip():
                        check(json.loads(line), path.name)
    for kind, n in sorted(counts.items()):
        print(f"{kind}: {n}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
