#!/usr/bin/env bash
# One-shot set-up on a fresh Debian 12 machine: Debian packages, .venv, pip packages, model assets,
# and the example audio folder. Safe to re-run: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  fluidsynth fluid-soundfont-gm hydrogen-drumkits hydrogen-drumkits-effects
  flite espeak-ng sound-theme-freedesktop oxygen-sounds gnome-audio sox
  chromium  # the real browser that the collection page's tests drive with Playwright
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)  # METEOR, SPICE and the PTB tokenizer
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.almkit-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  echo "==> pip install (torch pinned first so no resolver ever picks a CUDA build)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi

echo "==> model assets"
.venv/bin/almkit assets pull
