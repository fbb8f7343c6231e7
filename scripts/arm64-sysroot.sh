#!/usr/bin/env bash
# Makes the arm64 (aarch64-linux-gnu) sysroot that cmake/toolchains/aarch64-linux-gnu.cmake
# cross-builds against and qemu-user runs bcvk in: Debian 12's arm64 packages, downloaded and
# unpacked into the sysroot, never installed.  Installing them would not work and would do harm:
# arm64 spirv-tools cannot be co-installed with the amd64 one glslang-dev needs, and arm64 Mesa
# registers ICDs that the host's Vulkan loader reports as errors, which fail every validation-on
# test.  Idempotent: unpacks again only when the package list changed.
#
#   bash scripts/arm64-sysroot.sh [SYSROOT]     default: build-arm64/sysroot
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sysroot="${1:-$root/build-arm64/sysroot}"
debs="${XDG_CACHE_HOME:-$HOME/.cache}/bcvk/arm64-debs"
say() { printf 'arm64-sysroot: %s\n' "$*"; }
die() { printf 'arm64-sysroot: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root once, to add the arm64 package lists: dpkg --add-architecture arm64 && apt-get update"

# Host tools: the cross compiler and qemu-user (both amd64 packages).
host_pkgs=(g++-aarch64-linux-gnu qemu-user)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "adding the arm64 package lists (dpkg --add-architecture arm64; nothing arm64 is installed)"
  dpkg --add-architecture arm64
  apt-get update -qq || die "apt-get update failed"
elif ! apt-cache show mesa-vulkan-drivers:arm64 >/dev/null 2>&1; then
  apt-get update -qq || die "apt-get update failed"
fi
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# What the build links or includes (no recursion: -dev packages would pull libc6-dev, whose linker
# scripts name absolute host paths), and what bcvk runs on under qemu (recursive, libraries only).
build_pkgs=(glslang-dev:arm64 glslang-tools:arm64 spirv-tools:arm64 libpcre2-dev:arm64
  libpcre2-8-0:arm64 libpcre2-16-0:arm64 libpcre2-32-0:arm64 libpcre2-posix3:arm64
  libvulkan-dev:arm64 libvulkan-volk-dev libvkfft-dev nlohmann-json3-dev libcli11-dev libeigen3-dev
  libcpp-httplib-dev:arm64 libcpp-httplib0.11:arm64 libssl-dev:arm64 libssl3:arm64 zlib1g-dev:arm64
  zlib1g:arm64 libbrotli-dev:arm64 libbrotli1:arm64)
run_roots=(libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 libpcre2-8-0:arm64 libvulkan1:arm64
  mesa-vulkan-drivers:arm64 libcpp-httplib0.11:arm64)
mapfile -t run_pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "${run_roots[@]}" 2>/dev/null |
  grep -E '^(lib[^ ]*|zlib1g|mesa-vulkan-drivers|gcc-12-base):arm64$' | sort -u)
((${#run_pkgs[@]} > 5)) || die "could not resolve the arm64 run-time packages (apt-cache depends)"
all=("${build_pkgs[@]}" "${run_pkgs[@]}")

stamp="$sysroot/.packages"
want="$(printf '%s\n' "${all[@]}" | sort -u; apt-cache policy mesa-vulkan-drivers:arm64 glslang-dev:arm64 | grep Candidate)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  say "sysroot up to date: $sysroot"
  exit 0
fi

mkdir -p "$debs"
say "downloading ${#all[@]} packages into $debs"
(cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "${all[@]}" >/dev/null) || die "apt-get download failed"

rm -rf "$sysroot.partial"
mkdir -p "$sysroot.partial"
for p in "${all[@]}"; do
  name="${p%%:*}"
  arch=arm64
  [[ "$p" == *:arm64 ]] || arch=all
  version="$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')"
  deb="$(ls "$debs"/"${name}_${version//:/%3a}_${arch}.deb" 2>/dev/null | head -n1)"
  [[ -n "$deb" ]] || die "no downloaded .deb for $p ($version)"
  dpkg-deb -x "$deb" "$sysroot.partial"
done
# Absolute symlinks point into the host; make them relative to the sysroot.
while IFS= read -r link; do
  target="$(readlink "$link")"
  [[ "$target" == /* ]] || continue
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$sysroot.partial$target")" "$link"
done < <(find "$sysroot.partial" -type l)
printf '%s\n' "$want" >"$sysroot.partial/.packages"
rm -rf "$sysroot"
mv "$sysroot.partial" "$sysroot"
say "sysroot ready: $sysroot (${#all[@]} packages)"
