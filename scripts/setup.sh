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

# System tools of the student-code sandbox (autograder/sandbox.py): unshare (util-linux) for the namespace
# modes; the tests also drop capabilities with capsh (libcap2-bin) and create a user with useradd (passwd).
need=()
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
if [ "$extra" = "test" ]; then
  command -v capsh >/dev/null 2>&1 || [ -x /usr/sbin/capsh ] || need+=(libcap2-bin)
  command -v useradd >/dev/null 2>&1 || [ -x /usr/sbin/useradd ] || need+=(passwd)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${need[*]} (student-code sandbox)..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing system packages for the student-code sandbox: ${need[*]} (Debian/Ubuntu: apt-get install" \
         "${need[*]}). Without unshare the grader isolates student code only as root in a container" \
         "(separate uid) and refuses to grade elsewhere unless --trusted-notebooks." >&2
  fi
fi

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
