#!/usr/bin/env bash
# The README's students speed table (docs/PERFORMANCE.md, "Fused block-circulant kernels"):
# writes the three compressed students of issue 29 (f16 circulant parameters; speed does not
# depend on calibration, so they are plain projections), then benches the native dense model and
# each student in ROUNDS interleaved rounds (one process each: what a user runs), plus the
# dense file patched in one process at B = 64 with f32 parameters.  Records: docs/data/students/
# (bench JSON, one per run); table: docs/data/students/table.md, from scripts/students-table.py.
#   bash scripts/reproduce/students-speed.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rounds="${1:-2}"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
out=docs/data/students
work=results/students
mkdir -p "$out" "$work"
[[ -x build/bcvk ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
declare -A spec=([last8-b4]="22-29:gate,up,down:4" [all-b16]="all:gate,up,down:16"
                 [all-b64]="all:gate,up,down:64")
for name in last8-b4 all-b16 all-b64; do
  [[ -f "$work/$name.gguf" ]] ||
    build/bcvk compress -q -m "$model" --patch "${spec[$name]}" --dtype f16 -o "$work/$name.gguf"
done
bench=(build/bcvk bench -q --reps 3 --prompt-tokens 64 --decode-tokens 16)
rm -f "$out"/*.json
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  "${bench[@]}" -m "$model" --json "$out/dense-r$r.json" > /dev/null
  for name in last8-b4 all-b16 all-b64; do
    "${bench[@]}" -m "$work/$name.gguf" --json "$out/$name-r$r.json" > /dev/null
  done
  "${bench[@]}" -m "$model" --patch all:gate,up,down:64 --json "$out/patched-b64-r$r.json" \
    > /dev/null
done
python3 scripts/students-table.py "$out" > "$out/table.md"
cat "$out/table.md"
