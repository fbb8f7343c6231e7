#!/usr/bin/env bash
# The README's students speed table (docs/PERFORMANCE.md, "Fused block-circulant kernels"):
# writes the compressed students of issue 29, each with f16 and with q8_0 circulant parameters
# (speed does not depend on calibration, so they are plain projections), then benches
# each student against the native dense model in ROUNDS rounds, one process per student with
# `--against` (both loaded, measured in turn token by token, so the machine's drift cancels in
# the ratio), plus the dense file patched in one process at B = 64 with f32 parameters; then one
# `bench --profile` of each for the per-kernel table.  Records: docs/data/students/ (bench JSON,
# one per run; profile/ for the profiled runs); tables: docs/data/students/table.md and
# profile.md, from scripts/students-table.py.
#   bash scripts/reproduce/students-speed.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rounds="${1:-2}"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
out=docs/data/students
work=results/students
mkdir -p "$out" "$work"
[[ -x build/bcvk ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
students=(last8-b4 last8-b4-q8 all-b16 all-b16-q8 all-b64 all-b64-q8)
declare -A spec=([last8-b4]="22-29:gate,up,down:4" [last8-b4-q8]="22-29:gate,up,down:4"
                 [all-b16]="all:gate,up,down:16" [all-b16-q8]="all:gate,up,down:16"
                 [all-b64]="all:gate,up,down:64" [all-b64-q8]="all:gate,up,down:64")
for name in "${students[@]}"; do
  dtype=f16
  [[ $name == *-q8 ]] && dtype=q8_0
  [[ -f "$work/$name.gguf" ]] ||
    build/bcvk compress -q -m "$model" --patch "${spec[$name]}" --dtype $dtype \
      -o "$work/$name.gguf"
done
bench=(build/bcvk bench -q --reps 3 --prompt-tokens 64 --decode-tokens 16)
rm -f "$out"/*.json "$out"/profile/*.json
mkdir -p "$out/profile"
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for name in "${students[@]}"; do
    "${bench[@]}" -m "$model" --against "$work/$name.gguf" --json "$out/$name-r$r.json" > /dev/null
  done
  "${bench[@]}" -m "$model" --patch all:gate,up,down:64 --json "$out/patched-b64-r$r.json" \
    > /dev/null
done
# Device timestamps slow every kernel a little, so the profile is its own run.
echo "profiles" >&2
"${bench[@]}" --profile -m "$model" --json "$out/profile/dense.json" > /dev/null
for name in "${students[@]}"; do
  "${bench[@]}" --profile -m "$work/$name.gguf" --json "$out/profile/$name.json" > /dev/null
done
python3 scripts/students-table.py "$out" > "$out/table.md"
python3 scripts/students-table.py --profile "$out/profile" > "$out/profile.md"
cat "$out/table.md" "$out/profile.md"
