#!/usr/bin/env bash
# The main job: set up, build (Release) and run bcvk on the default model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
build/bcvk devices
build/bcvk info models/SmolLM2-135M-Instruct.Q4_1.gguf
