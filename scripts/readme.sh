#!/usr/bin/env bash
# README.md from nbs/index.ipynb: the offline path by default; INFONB_QUARTO_README=1 uses nbdev_readme (needs Quarto).
set -euo pipefail
VENV=${VENV:-.venv}
if [ -n "${INFONB_QUARTO_README:-}" ] && command -v quarto >/dev/null 2>&1; then
  "$VENV/bin/nbdev_readme"
else
  "$VENV/bin/python" scripts/make_readme.py
fi
