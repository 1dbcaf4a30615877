#!/usr/bin/env python3
"""scripts/check-layers.py: check that tde's includes go one way, downward.

Reads every `#include "tde/..."` line in src/ and include/tde/ and fails,
naming the units, when a lower layer includes a higher one or when units
include each other in a circle, directly or through others.

A unit is src/<layer>/<name>.c with its header include/tde/<layer>/<name>.h
(either may be missing); src/<name>.c and include/tde/<name>.h are units of
the module layer.  The layers, top to bottom (doc/code-map.md):

    module (src/tde.c, src/guc.c) > sql > keys > keystore > store > crypto > util

A unit may include headers of its own layer and of the layers below it.
Units of one layer may include each other, but never in a circle.

Usage: scripts/check-layers.py [ROOT]   (ROOT: the repository, by default
the directory above this script).  The last line is always

    layers: N units, M includes, K upward, C circles

where M counts the include lines between different units.  Exit status 0
only when K and C are both 0 and every included header exists.
"""

import os
import re
import sys

LAYERS = ["module", "sql", "keys", "keystore", "store", "crypto", "util"]
RANK = {name: i for i, name in enumerate(LAYERS)}  # 0 is the top
INCLUDE = re.compile(r'^\s*#\s*include\s+"tde/([A-Za-z0-9_/]+)\.h"', re.M)


def unit_of(relpath):
    """'src/keys/relkey.c' or 'include/tde/keys/relkey.h' -> 'keys/relkey'."""
    if relpath.startswith("src/"):
        rest = relpath[len("src/"):]
    elif relpath.startswith("include/tde/"):
        rest = relpath[len("include/tde/"):]
    else:
        return None
    name = os.path.splitext(rest)[0]
    return name if "/" in name else "module/" + name


def layer_of(unit):
    return unit.split("/", 1)[0]


def sources(root):
    for top, exts in (("src", (".c",)), ("include/tde", (".h",))):
        base = os.path.join(root, top)
        for dirpath, _dirs, files in os.walk(base):
            for f in sorted(files):
                if f.endswith(exts):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def circles(graph):
    """Strongly connected components of more than one unit (Tarjan)."""
    index = {}
    low = {}
    stack = []
    on_stack = set()
    found = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    units = set()
    graph = {}
    where = {}                  # (from unit, to unit) -> first file that does it
    problems = []
    nincludes = 0
    headers = set()

    files = list(sources(root))
    for rel in files:
        u = unit_of(rel)
        units.add(u)
        if rel.endswith(".h"):
            headers.add(rel[len("include/"):])
        if layer_of(u) not in RANK:
            problems.append("%s: folder \"%s\" is not a layer (%s)"
                            % (rel, layer_of(u), " > ".join(LAYERS)))
    for rel in files:
        u = unit_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for m in INCLUDE.finditer(text):
            hdr = "tde/" + m.group(1) + ".h"
            if hdr not in headers:
                problems.append("%s: includes \"%s\", which does not exist" % (rel, hdr))
                continue
            v = unit_of("include/" + hdr)
            if v == u:
                continue
            nincludes += 1
            graph.setdefault(u, set()).add(v)
            where.setdefault((u, v), rel)

    upward = []
    for (u, v), rel in sorted(where.items()):
        lu, lv = layer_of(u), layer_of(v)
        if lu in RANK and lv in RANK and RANK[lv] < RANK[lu]:
            upward.append("upward: %s (%s) includes %s (%s), in %s"
                          % (u, lu, v, lv, rel))
    found = circles(graph)
    for comp in found:
        problems.append("circle of %d: %s" % (len(comp), " <-> ".join(comp)))

    for line in upward + problems:
        print(line)
    print("layers: %d units, %d includes, %d upward, %d circles"
          % (len(units), nincludes, len(upward), len(found)))
    return 1 if upward or problems else 0


if __name__ == "__main__":
    sys.exit(main())
