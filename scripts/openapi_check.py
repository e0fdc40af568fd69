#!/usr/bin/python3
"""Checks the answers the service tests received against service/openapi.json.

tests/support/http_client.cpp records every answer the service tests get (one JSON line each: method,
path, status, content type, body) in $PROMOLEDGER_TEST_BODIES; ctest runs this script after the service
tests (tests/CMakeLists.txt). For each answer to a documented route it finds the documented response of
that status and validates the body against its schema (python3-jsonschema, Draft 4 as OpenAPI 3.0
uses it; `nullable` is turned into JSON Schema's "null" type first). It fails on any answer whose
status is not documented for its route, whose media type is not documented for that status, or whose
body does not match; and when fewer than --min answers were validated (a run that checked nothing
proves nothing). Answers to paths outside the API (the console's pages, unknown paths) are counted and
skipped.

Usage: openapi_check.py --document service/openapi.json --bodies DIR [--min N]
"""
import argparse
import collections
import copy
import glob
import json
import os
import sys

import warnings

import jsonschema

# Debian 12's python3-jsonschema (4.10) is the one CI installs; a newer one warns about RefResolver.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema: the type list gains "null" (or anyOf null)."""
    if isinstance(node, list):
        return [nullable_to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_to_json_schema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "type" in out and "$ref" not in out:
            t = out["type"]
            out["type"] = (t if isinstance(t, list) else [t]) + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def templates_of(document):
    out = []
    for template, item in document["paths"].items():
        segments = template.lstrip("/").split("/")
        out.append((template, segments, item))
    return out


def match(templates, path):
    """The documented template of a concrete path: literal segments equal, {param} any non-empty one.
    Where several match, the one with the most literal segments."""
    segments = path.split("?", 1)[0].lstrip("/").split("/")
    best = None
    for template, parts, item in templates:
        if len(parts) != len(segments):
            continue
        literal = 0
        for p, s in zip(parts, segments):
            if p.startswith("{") and p.endswith("}"):
                if not s:
                    break
            elif p != s:
                break
            else:
                literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, template, item)
    return (best[1], best[2]) if best else (None, None)


def resolve(document, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--document", required=True)
    ap.add_argument("--bodies", required=True)
    ap.add_argument("--min", type=int, default=200)
    args = ap.parse_args()

    raw = json.load(open(args.document, encoding="utf-8"))
    document = nullable_to_json_schema(copy.deepcopy(raw))
    resolver = jsonschema.RefResolver.from_schema(document)
    templates = templates_of(document)

    files = sorted(glob.glob(os.path.join(args.bodies, "bodies-*.jsonl")))
    answers = [json.loads(line) for f in files for line in open(f, encoding="utf-8") if line.strip()]
    failures, skipped, validated, seen = [], collections.Counter(), 0, collections.Counter()
    for a in answers:
        method, path, status = a["method"].lower(), a["path"], str(a["status"])
        template, item = match(templates, path)
        if template is None:
            skipped["a path outside the API (console, unknown)"] += 1
            continue
        operation = item.get(method)
        if operation is None:
            skipped["a method the route does not take (405)"] += 1
            continue
        where = f'{a["method"]} {template} {status}'
        responses = operation.get("responses", {})
        response = responses.get(status, responses.get("default"))
        if response is None:
            failures.append(f"{where}: this status is not documented (body {a['body'][:200]!r})")
            continue
        response = resolve(document, response)
        content = response.get("content", {})
        media = a["content_type"].split(";", 1)[0].strip()
        content = {k.split(";", 1)[0].strip(): v for k, v in content.items()}
        if not content:
            if a["body"]:
                failures.append(f"{where}: documented without a body, answered {media or 'no type'}: {a['body'][:200]!r}")
            else:
                validated += 1
                seen[where] += 1
            continue
        if media not in content:
            failures.append(f"{where}: answered {media or 'no type'}, documented {sorted(content)}")
            continue
        schema = content[media].get("schema")
        if media != "application/json" or schema is None:
            validated += 1
            seen[where] += 1
            continue
        try:
            body = json.loads(a["body"])
        except ValueError as e:
            failures.append(f"{where}: not JSON ({e}): {a['body'][:200]!r}")
            continue
        validator = jsonschema.Draft4Validator(schema, resolver=resolver)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            at = "/".join(str(p) for p in e.absolute_path) or "(the body)"
            failures.append(f"{where}: {len(errors)} disagreement(s); first at {at}: {e.message[:300]}")
            continue
        validated += 1
        seen[where] += 1

    # One line per distinct disagreement is enough to act on.
    distinct = list(dict.fromkeys(failures))
    for f in distinct[:60]:
        print("openapi_check: " + f, file=sys.stderr)
    print(f"openapi_check: {len(answers)} answers in {len(files)} files; {validated} validated over "
          f"{len(seen)} (method, route, status) pairs; {len(failures)} disagreements ({len(distinct)} distinct); "
          + ", ".join(f"{n} skipped: {why}" for why, n in skipped.items()))
    if distinct:
        return 1
    if validated < args.min:
        print(f"openapi_check: only {validated} answers validated (at least {args.min} expected): "
              f"were the service tests run with PROMOLEDGER_TEST_BODIES?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
