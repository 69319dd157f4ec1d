#!/usr/bin/env bash
# Installs the system packages the course needs beyond Python: bubblewrap (bwrap), the sandbox the
# autograder runs student code in.  Idempotent; does nothing when bwrap is already there.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing bubblewrap (the autograder's sandbox) with apt-get..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "bubblewrap (bwrap) is not installed and cannot be installed automatically here." >&2
  echo "Install it with your package manager, e.g. 'sudo apt-get install bubblewrap' (Debian/Ubuntu)," >&2
  echo "'sudo dnf install bubblewrap' (Fedora), or 'brew' has none: grade on Linux." >&2
  exit 1
fi
command -v bwrap >/dev/null 2>&1 && echo "bubblewrap: $(bwrap --version)"
