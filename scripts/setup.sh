#!/usr/bin/env bash
# Set up a virtual environment in .venv with the project installed.
#   scripts/setup.sh          library + grader (what instructors need)
#   scripts/setup.sh test     + test tools (PyTorch CPU as the independent reference, Chromium for
#                             the rendering tests of feedback.html and of the notebooks in JupyterLab)
# Re-running is cheap: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="grader"
if [ "${1:-}" = "test" ]; then extra="test"; fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch==2.13.0 resolves to the CPU build where one is provided locally; see README.
.venv/bin/python -m pip install --quiet -e ".[${extra}]"

if [ "$extra" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium (headless rendering tests: feedback.html, notebooks in JupyterLab)..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium not found and cannot install it (not root / no apt-get): install it so the" \
         "rendering tests can run (Debian: apt-get install chromium)." >&2
    exit 1
  fi
fi
echo "Environment ready: .venv ($(.venv/bin/python --version))"
