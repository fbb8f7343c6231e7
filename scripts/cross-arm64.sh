#!/usr/bin/env bash
# Cross-builds bcvk for arm64 (aarch64-linux-gnu) with Debian's cross compiler -- the `arm64` CMake
# preset, cmake/toolchains/aarch64-linux-gnu.cmake -- and smoke-tests the arm64 binary under
# qemu-user with Debian's arm64 lavapipe: `bcvk devices` must list the device, and a short greedy
# `bcvk generate` on the default model must print exactly what the native build prints.
# Needs build/bcvk (the native build) and the default model; scripts/test.sh runs this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'cross-arm64: %s\n' "$*"; }
die() { printf 'cross-arm64: error: %s\n' "$*" >&2; exit 1; }

bash scripts/arm64-sysroot.sh
sysroot="$PWD/build-arm64/sysroot"
cmake --preset arm64 >/dev/null
cmake --build --preset arm64
# e_machine, the ELF header's 16 bits at byte 18: 183 is EM_AARCH64.
machine="$(od -An -j18 -N2 -tu2 build-arm64/bcvk | tr -d ' ')"
[[ "$machine" == 183 ]] || die "build-arm64/bcvk is not an arm64 binary (ELF machine $machine)"
say "built build-arm64/bcvk ($(du -h build-arm64/bcvk | cut -f1), aarch64)"

# The arm64 Vulkan loader and lavapipe come from the sysroot (qemu -L maps / onto it); the ICD is
# named explicitly so the loader never tries the host's x86-64 drivers.
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
arm64() {
  VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.aarch64.json BCVK_CACHE_DIR="$cache" \
    timeout 900 qemu-aarch64 -L "$sysroot" build-arm64/bcvk "$@"
}

say "qemu-aarch64: bcvk devices"
devices="$(arm64 devices)" || die "bcvk devices failed under qemu-aarch64"
echo "$devices"
grep -q 'llvmpipe' <<<"$devices" || die "bcvk devices (arm64) lists no lavapipe device"

model=models/SmolLM2-135M-Instruct.Q4_1.gguf
prompt="The capital of France is"
say "qemu-aarch64: bcvk generate -n 4 (about a minute under emulation)"
start=$SECONDS
arm_text="$(arm64 generate -m "$model" -p "$prompt" -n 4)" || die "bcvk generate failed under qemu-aarch64"
native_text="$(build/bcvk generate -m "$model" -p "$prompt" -n 4 2>/dev/null)" || die "native bcvk generate failed"
say "arm64:  $arm_text"
say "native: $native_text"
[[ "$arm_text" == "$native_text" ]] || die "the arm64 build's greedy text differs from the native build's"
say "arm64 smoke test passed ($((SECONDS - start)) s under qemu-user)"
