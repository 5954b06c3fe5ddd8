#!/usr/bin/env bash
# The project's two set-up commands (see README):
#   ./dev.sh demo   runs the main job
#   ./dev.sh test   runs the whole test suite (extra arguments go to pytest;
#                   -m "not slow" runs the fast subset, see CONTRIBUTING.md)
#   ./dev.sh docs   builds the documentation site into site/ (offline, --strict); --serve previews it
# Each creates or reuses the virtual environment in .venv (override with RERANKIT_VENV) and
# installs every package of the repo in editable mode plus the dev requirements when they change.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${RERANKIT_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

ensure_env() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "rerankit needs Python 3.10 or newer; set PYTHON=/path/to/python3.x" >&2
    exit 1
  fi
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  local stamp files
  shopt -s nullglob
  files=(requirements-dev.txt core/pyproject.toml plugins/*/pyproject.toml)
  shopt -u nullglob
  stamp=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$VENV/.rerankit-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "installing rerankit and its dev requirements into $VENV ..." >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$stamp" > "$VENV/.rerankit-stamp"
  fi
}

ensure_browser() {
  # tests/docs/test_browser.py drives the system's Chromium; install it where it is missing.
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: install Chromium and chromedriver for the docs' browser test" >&2
    return 0
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing Chromium and its driver (apt) for the docs' browser test ..." >&2
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver >/dev/null; } ||
    echo "warning: could not install Chromium; tests/docs/test_browser.py will fail" >&2
}

case "${1:-}" in
  demo)
    ensure_env
    shift
    # Cranfield in an embedded LanceDB, fused by rerankit; the index is cached in .cache/.
    exec "$VENV/bin/rerankit" demo --cache-dir .cache/rerankit-demo "$@"
    ;;
  test)
    ensure_env
    ensure_browser
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  docs)
    ensure_env
    shift
    export NO_MKDOCS_2_WARNING=1
    if [ "${1:-}" = "--serve" ]; then
      shift
      exec "$VENV/bin/python" -m mkdocs serve "$@"
    fi
    # --strict: a broken link, an unresolved reference or a page missing from the navigation fails.
    exec "$VENV/bin/python" -m mkdocs build --strict "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh test [pytest args] | ./dev.sh docs [--serve]" >&2
    exit 2
    ;;
esac
