#!/usr/bin/env bash
# The installed package, used as a stranger would: `cmake --install` into a fresh prefix, then
# examples/ configured with find_package(bcvk) (shared and static), and by pkg-config, each
# binary run on the default model.
#   install_test.sh BUILD_DIR SOURCE_DIR MODEL
set -euo pipefail
build="$1" src="$2" model="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/bcvk/bcvk.h lib/libbcvk.a lib/cmake/bcvk/bcvkConfig.cmake \
         lib/cmake/bcvk/bcvkConfigVersion.cmake lib/pkgconfig/bcvk.pc bin/bcvk; do
  [[ -e "$prefix/$f" ]] || { echo "missing after install: $f" >&2; exit 1; }
done
ls "$prefix"/lib/libbcvk.so.0* >/dev/null

# Only the C API leaves the shared library.
others="$(nm -D --defined-only "$prefix/lib/libbcvk.so" | awk '{print $3}' | grep -v '^bcvk_' | grep -v '^BCVK_0$' || true)"
[[ -z "$others" ]] || { echo "libbcvk.so exports more than the C API:" >&2; head <<<"$others" >&2; exit 1; }

# The header is C99-clean on its own.
echo '#include <bcvk/bcvk.h>
int main(void) { return bcvk_version() == 0; }' > "$work/c99.c"
cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$prefix/include" -c "$work/c99.c" -o "$work/c99.o"

cmake -S "$src/examples" -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/examples" -j2 >/dev/null
[[ -x "$work/examples/chat_static" ]] || { echo "find_package(bcvk) gave no bcvk::bcvk_static" >&2; exit 1; }

PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -std=c99 "$src/examples/chat.c" -o "$work/chat_pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs bcvk)

for exe in "$work/examples/chat" "$work/examples/chat_static" "$work/chat_pc"; do
  out="$(LD_LIBRARY_PATH="$prefix/lib" "$exe" "$model" "What is 2+2?" 12 2>"$work/err")" \
    || { cat "$work/err" >&2; echo "$exe failed" >&2; exit 1; }
  [[ -n "${out//[[:space:]]/}" ]] || { cat "$work/err" >&2; echo "$exe printed nothing" >&2; exit 1; }
  grep -q "12 generated\|generated" "$work/err"
  echo "$(basename "$exe"): $out"
done
# The shared build must find libbcvk.so through its own rpath or LD_LIBRARY_PATH only.
# (ldd's output captured first: with pipefail, `ldd | grep -q` fails whenever grep exits before
# ldd has written everything and ldd dies of SIGPIPE.)
libs="$(ldd "$work/examples/chat")"
grep -q "libbcvk.so.0" <<<"$libs" || { echo "chat does not link libbcvk.so:" >&2; echo "$libs" >&2; exit 1; }
static_libs="$(ldd "$work/examples/chat_static")"
if grep -q "libbcvk.so" <<<"$static_libs"; then echo "chat_static links the shared library" >&2; exit 1; fi
echo "package: install, find_package (shared, static) and pkg-config all work"
