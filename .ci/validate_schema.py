#!/usr/bin/env python3
"""Validate GMF module files against schemas/module.schema.json.

Usage: python3 .ci/validate_schema.py [--schema PATH] PATH [PATH ...]

Each PATH is a module file or a directory searched recursively for
*.json, *.yaml and *.yml files; folders named `lookup_tables` are skipped.
Prints one `path: error` line per problem, then `N passed, M failed`.
Exits 1 if any file failed, 0 otherwise.
Needs only the `jsonschema` and `pyyaml` packages.
"""
import argparse
import json
import os
import sys

import jsonschema
import yaml

EXTENSIONS = (".json", ".yaml", ".yml")
SKIP_DIRS = {"lookup_tables"}
DEFAULT_SCHEMA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "schemas", "module.schema.json"
)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that rejects duplicate mapping keys instead of silently keeping the last."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
# YAML 1.2, as ehrsim reads it, has no timestamp type: `date: 2025-01-01` is a string.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _reject_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError("duplicate key %r" % (key,))
        out[key] = value
    return out


def find_files(paths):
    """Yield module files under the given paths, in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                for name in sorted(files):
                    if name.lower().endswith(EXTENSIONS):
                        yield os.path.join(root, name)
        else:
            yield path


def load(path):
    with open(path, encoding="utf-8-sig") as f:
        if path.lower().endswith(".json"):
            return json.load(f, object_pairs_hook=_reject_duplicates)
        return yaml.load(f, Loader=_UniqueKeyLoader)


def where(error):
    parts = [str(p) for p in error.absolute_path]
    return "/".join(parts) if parts else "(root)"


def _alternatives(schemas):
    """If every alternative only lists required keys, name them ("a", "b + c"); else None."""
    names = []
    for sub in schemas:
        if not isinstance(sub, dict) or set(sub) != {"required"}:
            return None
        names.append(" + ".join(sub["required"]))
    return names


def _leaves(error):
    """The innermost errors under `error` (itself if it has no sub-errors)."""
    if not error.context:
        return [error]
    out = []
    for sub in error.context:
        out.extend(_leaves(sub))
    return out


def _score(errors):
    """How far into the instance an alternative got before failing; type mismatches count less."""
    return max(
        len(leaf.absolute_path) + (0 if leaf.validator == "type" else 0.5)
        for err in errors
        for leaf in _leaves(err)
    )


def _false_schema_key(error, doc):
    """jsonschema reports a `false` property schema at the parent object; find the key itself."""
    parent = doc
    for part in error.absolute_path:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(parent, dict):
        for key, value in parent.items():
            if value is error.instance:
                return key
    return None


def explain(error, doc=None):
    """Turn one validation error into a (location, message) pair that names the real cause.

    oneOf/anyOf errors are replaced by the error of the alternative that matched
    best, alternatives that only differ in which keys are present are summarised,
    and a value of the wrong type lists every type that would have been accepted.
    """
    if error.schema is False:
        key = _false_schema_key(error, doc)
        if key is not None and list(error.relative_schema_path)[-1:] == ["properties"]:
            return "%s/%s" % (where(error), key), "not allowed here"
        return where(error), "%r is not allowed here" % (error.instance,)
    if error.validator in ("oneOf", "anyOf"):
        names = _alternatives(error.validator_value)
        if names is not None:
            if error.context:
                return where(error), "needs one of: %s" % ", ".join(names)
            return where(error), "must have only one of: %s" % ", ".join(names)
    if not error.context:
        return where(error), error.message
    leaves = _leaves(error)
    paths = {tuple(leaf.absolute_path) for leaf in leaves}
    if all(leaf.validator == "type" for leaf in leaves) and len(paths) == 1:
        types = []
        for leaf in leaves:
            wanted = leaf.validator_value
            types.extend(t for t in ([wanted] if isinstance(wanted, str) else wanted) if t not in types)
        return where(leaves[0]), "%r is not of type %s" % (leaves[0].instance, " or ".join(types))
    if error.validator in ("oneOf", "anyOf"):
        branches = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        best_branch = max(branches.values(), key=_score)  # first one wins ties
        best = jsonschema.exceptions.best_match(best_branch)
    else:
        best = jsonschema.exceptions.best_match(error.context)
    if best is None or best is error:
        return where(error), error.message
    return explain(best, doc)


def validate_file(validator, path):
    """Return a list of error strings for one file."""
    try:
        doc = load(path)
    except Exception as exc:  # unreadable or malformed file
        return ["cannot parse: %s" % str(exc).replace("\n", " ")]
    messages = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        msg = "%s: %s" % explain(error, doc)
        if msg not in messages:
            messages.append(msg)
    return messages


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help="schema file (default: schemas/module.schema.json)")
    parser.add_argument("paths", nargs="+", help="module files or directories")
    args = parser.parse_args(argv)

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    passed = failed = 0
    seen = set()
    for path in find_files(args.paths):
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        errors = validate_file(validator, path)
        if errors:
            failed += 1
            for msg in errors:
                print("%s: %s" % (path, msg))
        else:
            passed += 1
    if passed + failed == 0:
        print("warning: no module files found in: %s" % " ".join(args.paths), file=sys.stderr)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
