#!/usr/bin/env bash
# make docs: the offline documentation site in _site/ (how and why: nbs/34_docs.ipynb).
# nbdev processes the notebooks (show_doc, cell directives) into _proc/, Sphinx + myst-nb + Furo render them,
# KaTeX shipped with the site renders the math, Sphinx's own index gives search. Nothing is executed, nothing
# is fetched at view time. KaTeX comes from Debian's libjs-katex (installed here when we are root), else from
# npm's katex (installed into the virtual environment), else from $INFONB_KATEX_DIR.
# INFONB_QUARTO_DOCS=1 also runs nbdev_docs (Quarto's site in _docs/) where Quarto is installed.
set -euo pipefail
VENV=${VENV:-.venv}
katex_ok() { [ -f "$1/katex.min.js" ] && [ -f "$1/katex.min.css" ] && [ -d "$1/fonts" ]; }
debian=/usr/share/javascript/katex
npm_katex=$VENV/share/katex/node_modules/katex/dist
if [ -z "${INFONB_KATEX_DIR:-}" ]; then
  if ! katex_ok "$debian" && ! katex_ok "$npm_katex"; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "infonb: installing Debian's libjs-katex (math renderer shipped with the docs) ..."
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq libjs-katex >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null && apt-get install -y -qq libjs-katex >/dev/null; } || true
    fi
    if ! katex_ok "$debian" && command -v npm >/dev/null 2>&1; then
      echo "infonb: installing npm's katex into $VENV/share/katex ..."
      npm install --silent --no-audit --no-fund --prefix "$VENV/share/katex" katex@0.16 >/dev/null
    fi
  fi
  if katex_ok "$debian"; then export INFONB_KATEX_DIR=$debian
  elif katex_ok "$npm_katex"; then export INFONB_KATEX_DIR=$npm_katex
  else echo "infonb: KaTeX not found: apt-get install libjs-katex (as root), or install npm, or set INFONB_KATEX_DIR" >&2; exit 1
  fi
fi
"$VENV/bin/python" -c "from infonb.docs import build_site; build_site('_site')"
if [ -n "${INFONB_QUARTO_DOCS:-}" ]; then
  if command -v quarto >/dev/null 2>&1; then "$VENV/bin/nbdev_docs"
  else echo "infonb: INFONB_QUARTO_DOCS is set but Quarto is not installed; built the Sphinx site only" >&2; fi
fi
