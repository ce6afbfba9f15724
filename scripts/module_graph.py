#!/usr/bin/env python3
"""The library's module graph, and its import circles.

Usage: python3 scripts/module_graph.py [--dot] [SRC_DIR]   (default shared/src)

Each .rs file under SRC_DIR is a module (`a/mod.rs` and `a.rs` are module `a`, files of
`#[cfg(test)]` test modules included). An edge A -> B is a path A names: `use
crate::b::..`, `use super::..`, `crate::b::x` written inline, or `super::x` (resolved to
the longest existing module prefix). A module naming its own descendants is containment
(declaring and re-exporting children), not an import, and is not an edge. A circle is a
strongly connected component of more than one module. Exits 1 when there is one and
prints each circle with the edges that close it, so a test can hold the line.
"""

import os
import re
import sys

USE = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
BRACED = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)


def modules(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts == ["lib"]:
                parts = []
            mods[tuple(parts)] = os.path.join(dirpath, f)
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def resolve(mod, root, segments, mods):
    """The module a path names: the longest prefix of it that is a module."""
    if root == "crate":
        base = []
    else:
        base = list(mod)
        # `super` from a file module: its parent module.
        base = base[:-1]
        while segments and segments[0] == "super":
            base = base[:-1]
            segments = segments[1:]
    path = base + segments
    for k in range(len(path), -1, -1):
        if tuple(path[:k]) in mods:
            return tuple(path[:k])
    return ()


def edges(mods):
    out = {m: set() for m in mods}
    for mod, file in mods.items():
        text = strip_comments(open(file, encoding="utf-8").read())
        found = []
        for m in BRACED.finditer(text):
            prefix = [s for s in m.group(2).split("::") if s]
            for item in re.split(r"[,\s]+", m.group(3)):
                item = item.strip("{} ")
                if not item:
                    continue
                segs = [s for s in item.split("::") if s and s not in ("self", "*")]
                found.append((m.group(1), prefix + segs))
        for m in USE.finditer(text):
            segs = [s for s in m.group(2).split("::") if s and s != "{"]
            found.append((m.group(1), segs))
        for root, segs in found:
            target = resolve(mod, root, segs, mods)
            if target == mod or target[: len(mod)] == mod:
                continue  # itself or its own descendants: containment
            out[mod].add(target)
    return out


def circles(graph):
    """Tarjan's strongly connected components with more than one member."""
    index, low, stack, on, result = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def name(m):
    return "::".join(m) if m else "crate (lib.rs)"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "shared", "src")
    mods = modules(src)
    graph = edges(mods)
    if "--dot" in sys.argv:
        print("digraph trainguard {")
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print(f'  "{name(a)}" -> "{name(b)}";')
        print("}")
        return
    found = circles(graph)
    n_edges = sum(len(v) for v in graph.values())
    print(f"{len(mods)} modules, {n_edges} import edges, {len(found)} circle(s)")
    for comp in found:
        members = set(comp)
        print(f"circle of {len(comp)}: " + ", ".join(name(m) for m in comp))
        for a in comp:
            for b in sorted(graph[a] & members):
                print(f"    {name(a)} -> {name(b)}")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
