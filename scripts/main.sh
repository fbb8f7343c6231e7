#!/usr/bin/env bash
# The main job: set up, build (Release), then the default teacher-student sweep on the default
# model -- block sizes 4 and 64, the last 8 layers or all 30, plain projection vs least squares
# followed by distillation (ls+kd: the teacher's soft targets, only the circulant parameters
# trained, on the host), and the low-rank baseline at B=64's parameter count -- on a subset of the
# prompts sized to finish in about 20 minutes on 2 cores with lavapipe.  Results: the table on
# stdout, and results/eval.{json,md,html}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
build/bcvk devices
mkdir -p results
build/bcvk eval -m models/SmolLM2-135M-Instruct.Q4_1.gguf \
  --block-sizes 4,64 --layers last8,all --calibrate none,ls+kd --baseline lowrank --baseline-block-sizes 64 \
  --limit 20 --calib-limit 30 --continuations 4 --kd-steps 30 \
  --json results/eval.json --md results/eval.md --html results/eval.html
