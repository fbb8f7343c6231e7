#!/usr/bin/env python3
"""The layering, checked on the source: apps -> runtime -> loaders, and inside runtime each layer
includes only the layers its CMake target links (runtime/CMakeLists.txt, bcvk_runtime_layer
DEPS, transitively).  The link already fails for a call that crosses the layering; this also
catches an include of a header-only piece.  Prints every violation; exit 1 if any."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
cmake = (root / "runtime" / "CMakeLists.txt").read_text()
deps = {}
for m in re.finditer(r"bcvk_runtime_layer\((\w+)(.*?)\)\n", cmake, re.S):
    name, body = m.group(1), m.group(2)
    d = re.search(r"DEPS([^)]*)", body)
    deps[name] = set(re.findall(r"bcvk_(\w+)", d.group(1))) if d else set()
if len(deps) < 10:
    sys.exit(f"layers_test: found only {sorted(deps)} in runtime/CMakeLists.txt")


def below(layer, seen=None):
    seen = set() if seen is None else seen
    for d in deps.get(layer, ()):
        if d not in seen:
            seen.add(d)
            below(d, seen)
    return seen


include = re.compile(r'#include "([a-z_]+)/([a-z_]+)?/?')
bad = []
checked = 0
for path in sorted(p for d in ("loaders", "runtime", "apps") for p in (root / d).rglob("*")):
    if path.suffix not in (".h", ".cpp"):
        continue
    top = path.relative_to(root).parts[0]
    layer = path.relative_to(root).parts[1] if top == "runtime" else None
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        m = include.match(line)
        if not m:
            continue
        checked += 1
        what, sub = m.group(1), m.group(2)
        where = f"{path.relative_to(root)}:{n}: {line.strip()}"
        if top == "loaders" and what in ("runtime", "apps"):
            bad.append(where + " (loaders include nothing above them)")
        elif top == "runtime" and what == "apps":
            bad.append(where + " (runtime includes no app)")
        elif top == "runtime" and what == "runtime" and layer in deps and sub != layer:
            if sub in deps and sub not in below(layer):
                bad.append(where + f" ({layer} does not link {sub})")
for b in bad:
    print(b)
print(f"layers_test: {checked} includes checked, {len(bad)} against the layering")
sys.exit(1 if bad else 0)
