#!/usr/bin/env bash
# Installs what the autograder's sandbox needs beyond Python, and does nothing that is already done:
#   - bubblewrap (bwrap): the sandbox;
#   - python3-seccomp (libseccomp's binding): compiles the system-call filter;
#   - util-linux's setpriv: drops root before student code runs (present on every Debian/Ubuntu);
#   - as root, the account 'nnkit-sandbox' that student code runs as when the grader is root.
# Then it prints what `python -m autograder doctor` would check first.
set -euo pipefail

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
