#!/usr/bin/env python3
"""Validate evaluation reports against schemas/evaluation-report.schema.json (JSON Schema
2020-12). Exit status 1 with every violation on stderr.

Usage: validate.py <evaluation.json> [...]
"""

import json
import os
import sys

from jsonschema import Draft202012Validator

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas", "evaluation-report.schema.json")


def main(paths):
    schema = json.load(open(SCHEMA))
    Draft202012Validator.check_schema(schema)
    v = Draft202012Validator(schema)
    bad = 0
    for p in paths:
        # JSON has no NaN: a report that holds one is not JSON.
        report = json.load(open(p), parse_constant=lambda c: sys.exit(f"{p}: {c} is not JSON"))
        for e in sorted(v.iter_errors(report), key=lambda e: list(e.path)):
            print(f"{p}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}", file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
