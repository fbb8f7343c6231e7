#!/usr/bin/env bash
# Renders an HTML report (bcvk eval --html) in headless Chromium to a PNG, to look at the plots
# as a reader's browser draws them.  Installs Debian's chromium when it is missing (as root).
#   bash scripts/render-report.sh report.html [out.png] [width] [height]
set -euo pipefail
html="${1:?usage: render-report.sh report.html [out.png] [width] [height]}"
png="${2:-${html%.html}.png}"
width="${3:-1400}" height="${4:-1800}"
[[ -f "$html" ]] || { echo "render-report: no file $html" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  [[ $(id -u) -eq 0 ]] || { echo "render-report: chromium is missing; as root: apt-get install chromium" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="$width,$height" --screenshot="$png" "file://$(realpath "$html")" 2>/dev/null
[[ -s "$png" ]] || { echo "render-report: chromium wrote no image" >&2; exit 1; }
echo "render-report: wrote $png"
