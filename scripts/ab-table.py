#!/usr/bin/env python3
"""Renders a before/after Google Benchmark record (docs/data/circulant_blockload_benchmark.json:
runs of two builds, alternating) as a Markdown table: per benchmark the minimum time of each
build's runs and their ratio.  Usage:
  python3 scripts/ab-table.py docs/data/circulant_blockload_benchmark.json"""
import collections
import json
import sys


def main(path):
    rec = json.load(open(path))
    times = collections.defaultdict(lambda: collections.defaultdict(list))
    for run in rec["runs"]:
        for b in run["benchmarks"]:
            times[b["name"]][run["build"]].append(b["real_time"])
    print("| benchmark | before us | after us | speed-up |")
    print("|---|---:|---:|---:|")
    for name in sorted(times):
        before, after = min(times[name]["before"]), min(times[name]["after"])
        short = name.replace("BM_Circulant/", "").split("/min_time")[0]
        print(f"| `{short}` | {before:.0f} | {after:.0f} | {before / after:.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1])
