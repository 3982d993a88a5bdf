#!/usr/bin/env python
"""Execute notebooks in place and keep their outputs (for the docs site), skipping cells flagged in tst_flags.

  python scripts/run_nb.py nbs/02_renyi.ipynb [more.ipynb ...]

Then run `nbdev_clean`. Flagged cells (slow, cuda, notest) keep whatever outputs they had.
Figures are saved as plain PNG at the figure's dpi (execnb's default, 'retina', doubles every side:
four times the bytes); INFONB_MPL_FORMAT=retina (or svg) chooses another format.
"""
import os, sys
from configparser import ConfigParser
from pathlib import Path
os.environ.setdefault('MPLBACKEND', 'Agg')
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.process import NBProcessor, extract_directives

ROOT = Path(__file__).resolve().parents[1]
cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
MPL_FORMAT = os.environ.get('INFONB_MPL_FORMAT', 'png')
FLAGS = set(cfg['DEFAULT'].get('tst_flags', '').split()) - set(os.environ.get('INFONB_NB_FLAGS', '').split())

def _skip(cell):
    if cell.cell_type != 'code': return True
    d = extract_directives(cell, remove=False)
    return bool(FLAGS & set(d)) or d.get('eval:', [''])[0].lower() == 'false'

for fn in sys.argv[1:]:
    fn = Path(fn).resolve()
    nb = read_nb(fn)
    cwd = os.getcwd(); os.chdir(fn.parent)
    try: CaptureShell(fn, mpl_format=MPL_FORMAT).run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    write_nb(nb, fn)
    print(f'executed {fn.name}')
