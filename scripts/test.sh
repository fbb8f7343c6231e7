#!/usr/bin/env bash
# The whole test suite: set up, build, and run every test with ctest.
#   1. build-sanitize/: the loaders and their tests under AddressSanitizer and
#      UndefinedBehaviorSanitizer (clang), plus a short run of every libFuzzer target;
#   2. build-arm64/: the arm64 cross-build (scripts/cross-arm64.sh), smoke-tested under qemu-user
#      against the native build's output;
#   3. build/: the Release build, every test, GPU tests on the device with the Khronos
#      validation layer on.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBCVK_LOADERS_ONLY=ON -DBCVK_SANITIZE=ON -DBCVK_FUZZERS=ON
cmake --build build-sanitize -j2
ctest --test-dir build-sanitize --output-on-failure -j2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
# The serve test's clients (the official openai package, from PyPI) in a virtual environment.
[[ -x build/test-venv/bin/python ]] || python3 -m venv build/test-venv
build/test-venv/bin/pip install -q --disable-pip-version-check -r tests/serve/requirements.txt
bash scripts/cross-arm64.sh
ctest --test-dir build --output-on-failure -j2
