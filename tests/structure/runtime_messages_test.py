#!/usr/bin/env python3
"""Runtime messages name no command-line flag: the runtime serves the C API and the HTTP server
too, whose users have no flags; the apps own flag names.  Every string literal in runtime/ (the
HTTP server, which has its own flags, aside) is searched for `--word`; a short list of other
tools' flags is allowed.  And the error policy (docs/ARCHITECTURE.md, "Errors"): an internal
invariant is reported through util::internal_error / BCVK_ASSERT (util::InternalError, with file
and line), never as another exception whose text says "internal error".  Prints every hit; exit 1
if any."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
allowed = {"vulkaninfo --summary", "bench --json"}
literal = re.compile(r'"((?:[^"\\]|\\.)*)"')
flag = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
bad = []
for path in sorted((root / "runtime").rglob("*.cpp")):
    if "serve" in path.relative_to(root).parts:
        continue
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        code = line.split("//", 1)[0]
        for lit in literal.findall(code):
            if flag.search(lit) and not any(a in lit for a in allowed):
                bad.append(f"{path.relative_to(root)}:{n}: {lit}")
internal = re.compile(r"throw [\w:]+\(\s*(std::string\()?\"internal error")
for path in sorted(p for p in (root / "runtime").rglob("*") if p.suffix in (".h", ".cpp")):
    if path.relative_to(root).as_posix() == "runtime/util/check.cpp":
        continue
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if internal.search(line):
            bad.append(f"{path.relative_to(root)}:{n}: an internal error not raised by "
                       f"util::internal_error: {line.strip()}")
for b in bad:
    print(b)
print(f"runtime_messages_test: {len(bad)} runtime strings name a flag or raise an internal error "
      "another way")
sys.exit(1 if bad else 0)
