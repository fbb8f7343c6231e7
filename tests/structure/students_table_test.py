#!/usr/bin/env python3
"""The students' speed table in README.md and docs/PERFORMANCE.md is what its checked-in records
render to (scripts/students-table.py over docs/data/students/), line for line, and so is
docs/data/students/table.md.  Prints what differs; exit 1 if anything does."""
import pathlib
import subprocess
import sys

root = pathlib.Path(sys.argv[1])
rendered = subprocess.run(
    [sys.executable, str(root / "scripts" / "students-table.py"), str(root / "docs/data/students")],
    check=True, capture_output=True, text=True).stdout.strip().splitlines()
bad = []
for doc in ("README.md", "docs/PERFORMANCE.md", "docs/data/students/table.md"):
    text = (root / doc).read_text().splitlines()
    missing = [line for line in rendered if line and line not in text]
    for line in missing:
        bad.append(f"{doc}: lacks the rendered line: {line}")
for b in bad:
    print(b)
print(f"students_table_test: {len(rendered)} rendered lines, {len(bad)} missing")
sys.exit(1 if bad else 0)
