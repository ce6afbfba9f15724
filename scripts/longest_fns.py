#!/usr/bin/env python3
"""The longest functions of the Rust sources, by lines from `fn` to its closing brace.

Usage: python3 scripts/longest_fns.py [--top N] [--tests] [DIR ...]   (default shared/src)

Test code (files named tests.rs, `mod tests` blocks, #[test] functions) is left out
unless --tests is given: a long test is a list of cases, not a step that wants naming.
Strings, chars and comments are skipped when matching braces.
"""

import os
import re
import sys

FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")


def code_only(text):
    """The text with strings, chars and comments blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + 1)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path, with_tests):
    text = open(path, encoding="utf-8").read()
    code = code_only(text).split("\n")
    lines = text.split("\n")
    out = []
    test_depth = None  # brace depth at which a `mod tests` block opened
    depth = 0
    i = 0
    while i < len(code):
        line = code[i]
        if not with_tests and test_depth is None and re.match(r"\s*mod\s+tests\b", line):
            test_depth = depth
        m = FN.match(line)
        is_test = i > 0 and "#[test]" in lines[i - 1] or "#[tokio::test" in (lines[i - 1] if i > 0 else "")
        if m and (with_tests or (test_depth is None and not is_test)):
            # Walk to the body's closing brace.
            d, j, opened = 0, i, False
            while j < len(code):
                for ch in code[j]:
                    if ch == "{":
                        d += 1
                        opened = True
                    elif ch == "}":
                        d -= 1
                if opened and d == 0:
                    break
                if not opened and code[j].rstrip().endswith(";"):
                    break  # a declaration without a body
                j += 1
            if opened:
                out.append((j - i + 1, m.group(1), i + 1))
        for ch in line:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if test_depth is not None and depth == test_depth:
                    test_depth = None
        i += 1
    return out


def main():
    args = sys.argv[1:]
    top, with_tests, dirs = 15, False, []
    while args:
        a = args.pop(0)
        if a == "--top":
            top = int(args.pop(0))
        elif a == "--tests":
            with_tests = True
        else:
            dirs.append(a)
    dirs = dirs or [os.path.join(os.path.dirname(__file__), "..", "shared", "src")]
    rows = []
    for d in dirs:
        for dirpath, _, files in os.walk(d):
            for f in files:
                if not f.endswith(".rs") or (not with_tests and f == "tests.rs"):
                    continue
                p = os.path.join(dirpath, f)
                rel = os.path.relpath(p, d)
                rows += [(n, f"{rel}::{name}", line) for n, name, line in functions(p, with_tests)]
    rows.sort(reverse=True)
    for n, name, line in rows[:top]:
        print(f"{n:5d}  {name} (line {line})")
    over = [r for r in rows if r[0] > 100]
    print(f"{len(rows)} functions; {len(over)} longer than 100 lines; longest {rows[0][0] if rows else 0}")


if __name__ == "__main__":
    main()
