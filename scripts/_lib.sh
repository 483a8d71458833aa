# Shared by the scripts in this folder: where things are, and one way to find Python 3.10.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
# TensorFlow is chatty on start-up; errors still reach stderr.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# Rasa's anonymous telemetry would try to reach the internet.
export RASA_TELEMETRY_ENABLED=false
# One thread for numpy's OpenBLAS. A server answers many conversations at once, one small matrix at a time:
# OpenBLAS's extra thread only spins between calls. In Nära's Rasa server it burned ~4 ms of the other
# core per message, which the action server and the other instances need (bench/README.md).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

# A free TCP port on loopback (the kernel picks it).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

is_py310() { [ -n "${1:-}" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }

# Prints the path of a Python 3.10 interpreter: $NARA_PYTHON, then PATH, then pyenv, then uv (which may download one).
find_python310() {
  local candidate version
  for candidate in "${NARA_PYTHON:-}" "$(command -v python3.10 || true)"; do
    if is_py310 "$candidate"; then
      # A pyenv shim answers only when 3.10 is the active version; resolve it to the real binary.
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
      candidate="$(pyenv root)/versions/$version/bin/python"
      if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
    done
  fi
  if command -v uv >/dev/null 2>&1; then
    candidate="$(uv python find 3.10 2>/dev/null || true)"
    if ! is_py310 "$candidate"; then
      uv python install 3.10 >&2 || true
      candidate="$(uv python find 3.10 2>/dev/null || true)"
    fi
    if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
  fi
  echo "No Python 3.10 found (looked at \$NARA_PYTHON, python3.10 on PATH, pyenv and uv). Rasa 3.6 needs 3.10." >&2
  return 1
}

# Installs Debian packages (CI machines start bare). Root installs directly, others through sudo.
install_debian() {
  log "Installing $* (Debian packages)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null 2>&1 || $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Usage: need_debian <command> <package>... installs the packages when the command is missing.
need_debian() {
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 || install_debian "$@"
}
