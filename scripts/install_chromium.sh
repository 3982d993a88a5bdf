#!/usr/bin/env bash
# Headless Chromium for the docs test (tests/test_docs.py): Debian's `chromium`, installed with apt-get when we
# are root and it is missing. Prints the browser's path on success; exits 1 with the reason otherwise.
set -euo pipefail
find_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
bin=$(find_chromium)
if [ -z "$bin" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "infonb: installing Debian's chromium (headless browser for tests/test_docs.py) ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || true
    bin=$(find_chromium)
  fi
fi
if [ -z "$bin" ]; then
  echo "infonb: chromium is not installed and could not be (needs apt-get as root: apt-get install chromium)" >&2
  exit 1
fi
echo "$bin"
