#!/usr/bin/env bash
# Installs what the autograder's sandbox needs beyond Python, and does nothing that is already done:
#   - bubblewrap (bwrap): the sandbox;
#   - python3-seccomp (libseccomp's binding): compiles the system-call filter;
#   - util-linux's setpriv: drops root before student code runs (present on every Debian/Ubuntu);
#   - as root, the account 'nnkit-sandbox' that student code runs as when the grader is root;
#   - optionally Debian's chromium, for the browser tests (tests/browser): if it cannot be installed, the script
#     says so and those tests are skipped; everything above stays mandatory.
# Then it prints what `python -m autograder doctor` would check first.
#   bash scripts/install-system-deps.sh [--no-browser]     (--no-browser: skip chromium, e.g. for `make demo`)
set -euo pipefail
want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0

SANDBOX_USER=nnkit-sandbox
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -e /usr/lib/python3/dist-packages/seccomp.cpython-*.so ] 2>/dev/null \
  || compgen -G "/usr/lib/python3/dist-packages/seccomp*.so" >/dev/null || missing+=(python3-seccomp)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${missing[*]} (the autograder's sandbox) with apt-get..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing for the autograder's sandbox: ${missing[*]}; they cannot be installed automatically here." >&2
    echo "Install them with your package manager, e.g. 'sudo apt-get install ${missing[*]}' (Debian/Ubuntu)" >&2
    echo "or 'sudo dnf install bubblewrap python3-libseccomp util-linux' (Fedora); grading needs Linux." >&2
    exit 1
  fi
fi

# As root, student code must never run as root: it runs as a dedicated account with no login.
if [ "$(id -u)" -eq 0 ] && ! id "$SANDBOX_USER" >/dev/null 2>&1; then
  echo "Creating the account '$SANDBOX_USER' that student code runs as when the grader runs as root..."
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SANDBOX_USER"
fi

echo "bubblewrap: $(bwrap --version)"

# Optional: Debian's chromium for the browser tests (tests/browser: Playwright drives it; Playwright's own browser
# download is not used). Without chromium those tests are skipped, so a failed install is reported, never fatal.
chromium_skip="the browser tests (tests/browser) will be skipped"
if [ "$want_browser" -eq 1 ] && ! command -v chromium >/dev/null 2>&1; then
  apt_as=()
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt_as=(env)
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_as=(sudo)
  fi
  if [ ${#apt_as[@]} -gt 0 ]; then
    echo "Installing chromium (for the browser tests in tests/browser) with apt-get..."
    chromium_log=$(mktemp)
    if ! { "${apt_as[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq \
           && "${apt_as[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$chromium_log" 2>&1; then
      tail -n 5 "$chromium_log" >&2
      echo "chromium could not be installed with apt-get; $chromium_skip." >&2
    fi
    rm -f "$chromium_log"
  else
    echo "chromium is not installed and cannot be installed automatically here ('sudo apt-get install chromium'" >&2
    echo "on Debian/Ubuntu); $chromium_skip." >&2
  fi
fi
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null || echo 'installed, but chromium --version failed')"
fi
