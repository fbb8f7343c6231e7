#!/usr/bin/env bash
# docs/RESULTS.md, "8-bit circulant parameters": the usable student (last 8 layers at B = 4, ls+kd,
# 60 steps, the README's settings) compressed twice from the same deterministic training, once
# with f16 and once with q8_0 parameters, and each file evaluated against the dense model on
# all evaluation prompts.  Records: docs/data/q8cost/ (compress and eval JSON).
#   bash scripts/reproduce/q8-cost.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
out=docs/data/q8cost
work=results/q8cost
mkdir -p "$out" "$work"
[[ -x build/bcvk ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
for dtype in f16 q8_0; do
  student="$work/last8-b4-lskd-$dtype.gguf"
  # --threads 2: training is deterministic for a seed and a thread count.
  [[ -f "$student" ]] ||
    build/bcvk compress -m "$model" --patch last8:all:4 --calibrate ls+kd --kd-steps 60 \
      --threads 2 --dtype "$dtype" -o "$student" --json "$out/compress-$dtype.json"
  build/bcvk eval -m "$student" --teacher "$model" --json "$out/eval-$dtype.json"
done
