#!/usr/bin/env python3
"""One op, one name (docs/ARCHITECTURE.md): every shader names its dispatch file, which exists
and creates a pipeline of that shader; every op file in runtime/ops (helpers aside) has its test
tests/ops/<op>_test.cpp, and every op test its op file.  Prints every violation; exit 1 if any."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
helpers = {"weight_layout", "dispatch"}  # shared by several ops, tested through them
bad = []
dispatch = re.compile(r"[Dd]ispatch: (runtime/ops/[a-z_0-9]+\.cpp)")
for shader in sorted((root / "shaders").glob("*.comp")):
    text = shader.read_text()
    m = dispatch.search(text)
    if not m:
        bad.append(f"{shader.relative_to(root)}: no 'Dispatch: runtime/ops/<op>.cpp' line")
        continue
    op = root / m.group(1)
    if not op.exists():
        bad.append(f"{shader.relative_to(root)}: names {m.group(1)}, which does not exist")
    elif f'"{shader.stem}' not in op.read_text():
        bad.append(f"{shader.relative_to(root)}: {m.group(1)} never names the shader "
                   f"\"{shader.stem}...\"")
ops = {p.stem for p in (root / "runtime" / "ops").glob("*.cpp")} - helpers
tests = {p.stem[: -len("_test")] for p in (root / "tests" / "ops").glob("*_test.cpp")}
for op in sorted(ops):
    if op not in tests:
        bad.append(f"runtime/ops/{op}.cpp: no tests/ops/{op}_test.cpp")
for t in sorted(tests):
    # A test of one form of an op (embed_q: the quantized tables of embed) names its op first.
    if t not in ops and t.rsplit("_", 1)[0] not in ops:
        bad.append(f"tests/ops/{t}_test.cpp: no runtime/ops/{t}.cpp")
for b in bad:
    print(b)
print(f"op_files_test: {len(ops)} ops, {len(tests)} op tests, {len(bad)} violations")
sys.exit(1 if bad else 0)
