#!/usr/bin/env python3
"""Renders docs/data/students/*.json (bcvk bench records, scripts/reproduce/students-speed.sh)
as the Markdown table the README and docs/PERFORMANCE.md show: per variant the median over the
rounds of prefill and decode tokens/s, each record's ratio to the dense run interleaved with it
in the same process (median over rounds), dispatches per decode step and per layer's MLP.  With --profile, the
per-kernel table of the profiled runs (docs/data/students/profile/): each MLP kernel's weight
bytes and nominal FLOPs per decoded token, device time, and share of the measured copy roofline
and FMA peak.  Usage:
  python3 scripts/students-table.py docs/data/students
  python3 scripts/students-table.py --profile docs/data/students/profile"""
import json
import pathlib
import statistics
import sys

ORDER = [
    ("dense", "dense model (native Q4_1)"),
    ("last8-b4", "last 8 layers, B = 4 (compressed, f16)"),
    ("last8-b4-q8", "last 8 layers, B = 4 (compressed, q8_0)"),
    ("all-b16", "every layer, B = 16 (compressed, f16)"),
    ("all-b16-q8", "every layer, B = 16 (compressed, q8_0)"),
    ("all-b64", "every layer, B = 64 (compressed, f16)"),
    ("all-b64-q8", "every layer, B = 64 (compressed, q8_0)"),
    ("patched-b64", "`--patch all:gate,up,down:64` (one process, f32)"),
]


def main(folder):
    runs = {}
    for path in sorted(pathlib.Path(folder).glob("*-r*.json")):
        name, _, rnd = path.stem.rpartition("-r")
        rec = json.loads(path.read_text())
        # Each record holds the dense run first and the student second, measured interleaved.
        runs.setdefault(name, {})[int(rnd)] = (rec["variants"][-1], rec["variants"][0])
    # The dense row: every record's dense run.
    runs["dense"] = {(name, r): (d, d) for name, rows in runs.items() for r, (_, d) in rows.items()}
    print("| variant | prefill tok/s | decode tok/s | prefill vs dense | decode vs dense "
          "| dispatches per decode step | per layer's MLP |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, label in ORDER:
        if key not in runs:
            continue
        rows = runs[key]
        pre = [v["prefill_tokens_per_s"] for v, _ in rows.values()]
        dec = [v["decode_tokens_per_s"] for v, _ in rows.values()]
        # Ratios against the dense run interleaved with it in the same process.
        rp = [v["prefill_tokens_per_s"] / d["prefill_tokens_per_s"] for v, d in rows.values()]
        rd = [v["decode_tokens_per_s"] / d["decode_tokens_per_s"] for v, d in rows.values()]
        v = next(iter(rows.values()))[0]
        print(f"| {label} | {statistics.median(pre):.2f} | {statistics.median(dec):.2f} "
              f"| {statistics.median(rp):.2f}x | {statistics.median(rd):.2f}x "
              f"| {v.get('decode_commands_per_token', 0)} "
              f"| {v.get('mlp_dispatches_per_layer_decode', 0):.1f} |")
    first = json.loads(next(pathlib.Path(folder).glob("*-r*.json")).read_text())
    rounds = len(next(iter(r for k, r in runs.items() if k != "dense")))
    print(f"\nMedians over {rounds} round(s) of `bcvk bench --reps 3 --prompt-tokens 64 "
          f"--decode-tokens 16`, one process per student holding it and the dense model "
          f"(`--against`, or `--patch`), measured in turn token by token; ratios against that "
          f"process's dense run; device {first['device']['name']}.")


def profile(folder):
    print("| variant | kernel | MiB/token | MFLOP/token | us/token | GB/s | copy roofline "
          "| GFLOP/s | FMA peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    device = None
    for key, label in ORDER:
        path = pathlib.Path(folder) / f"{key}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        device = rec["device"]["name"]
        roof = rec["roofline"]
        for k in rec["variants"][-1]["decode_kernels"]:
            if not k["label"].startswith("mlp_"):
                continue
            print(f"| {label} | `{k['label']}` | {k['bytes_per_token'] / 1048576:.2f} "
                  f"| {k.get('flops_per_token', 0) / 1e6:.2f} | {k['ms_per_token'] * 1e3:.0f} "
                  f"| {k['gbs']:.2f} | {100 * k['roofline_fraction']:.0f}% "
                  f"| {k.get('gflops', 0):.2f} | {100 * k.get('fma_fraction', 0):.1f}% |")
    if device:
        print(f"\nOne `bcvk bench --profile --reps 3 --prompt-tokens 64 --decode-tokens 16` per "
              f"variant (device timestamps on); MLP kernels only, summed over layers; copy "
              f"roofline {roof['bandwidth_gbs']:.2f} GB/s and FMA peak {roof['fma_gflops']:.1f} "
              f"GFLOP/s as each run measured them (these from the last); device {device}.")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--profile":
        profile(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "docs/data/students")
