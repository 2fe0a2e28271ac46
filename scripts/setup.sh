# Shared set-up for scripts/run and scripts/test (sourced, not run): system packages, the
# virtualenv and the project's Python packages. Safe to repeat: it only does what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

install_system_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_packages() {
  [ -x "$VENV/bin/python" ] || { echo "==> creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing Python packages (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

install_test_browser() {  # scripts/test only: the pages are tested in Chromium
  # a CJK font too: the demo's store names and addresses are Chinese (and so are screenshots)
  command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q . && return 0
  echo "==> installing Chromium and a CJK font for the browser tests"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
}

install_system_packages
install_python_packages
export PATH="$VENV/bin:$PATH"
"$VENV/bin/python" "$ROOT/scripts/fetch_web_assets.py"
cd "$ROOT"
