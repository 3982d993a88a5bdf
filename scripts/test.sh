#!/usr/bin/env bash
# make test: notebooks clean, package in sync with the notebooks, then pytest over tests/.
set -euo pipefail
VENV=${VENV:-.venv}
bin=$VENV/bin
sums() { find "$@" -name '*.ipynb' -o -name '*.py' | grep -v '/\.' | sort | xargs md5sum; }

before=$(sums nbs); "$bin/nbdev_clean" >/dev/null; after=$(sums nbs)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_clean changed notebooks (now cleaned; review and commit):"; diff <(echo "$before") <(echo "$after") | grep '^>' ; exit 1
fi
echo "ok: notebooks are clean"
before=$(sums infonb); "$bin/nbdev_export" >/dev/null; after=$(sums infonb)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_export changed infonb/: the package had drifted from nbs/ (now re-exported; commit it):"; diff <(echo "$before") <(echo "$after") | grep '^>'; exit 1
fi
echo "ok: infonb/ is in sync with nbs/"
exec "$bin/python" -m pytest tests "$@"
