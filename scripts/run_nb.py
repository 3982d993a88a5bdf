#!/usr/bin/env python
"""Execute notebooks in place and keep their outputs (for the docs site), skipping cells flagged in tst_flags.

  python scripts/run_nb.py nbs/02_renyi.ipynb [more.ipynb ...]
  python scripts/run_nb.py --shrink nbs/52_filter_sweep.ipynb  # only re-encode its saved figures

Then run `nbdev_clean`. Flagged cells (slow, cuda, notest) keep whatever outputs they had.
Figures are saved as plain PNG at the figure's dpi (execnb's default, 'retina', doubles every side:
four times the bytes); INFONB_MPL_FORMAT=retina (or svg) chooses another format. Each PNG is then
re-encoded with a palette of at most 256 colours (line plots have few; about 3 times fewer bytes)
when that is smaller.
"""
import base64, io, os, sys
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

def _smaller_png(data:str)->str:
    "A base64 PNG re-encoded with a palette of at most 256 colours, if that is smaller."
    from PIL import Image
    raw = base64.b64decode(data)
    img = Image.open(io.BytesIO(raw))
    rgb = img.convert('RGBA') if img.mode in ('RGBA', 'LA', 'P') else img.convert('RGB')
    out = io.BytesIO()
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE).save(out, 'png', optimize=True)
    return base64.b64encode(out.getvalue()).decode() if out.tell() < len(raw) else data

def shrink_figures(nb):
    "Re-encode every PNG output of a notebook with `_smaller_png`."
    for cell in nb.cells:
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if 'image/png' in data:
                v = data['image/png']
                data['image/png'] = _smaller_png(v if isinstance(v, str) else ''.join(v))

def _skip(cell):
    if cell.cell_type != 'code': return True
    d = extract_directives(cell, remove=False)
    return bool(FLAGS & set(d)) or d.get('eval:', [''])[0].lower() == 'false'

shrink_only = '--shrink' in sys.argv[1:]
for fn in (a for a in sys.argv[1:] if a != '--shrink'):
    fn = Path(fn).resolve()
    nb = read_nb(fn)
    if not shrink_only:
        cwd = os.getcwd(); os.chdir(fn.parent)
        try: CaptureShell(fn, mpl_format=MPL_FORMAT).run_all(nb, exc_stop=True, preproc=_skip)
        finally: os.chdir(cwd)
    shrink_figures(nb)
    write_nb(nb, fn)
    print(f"{'shrank the figures of' if shrink_only else 'executed'} {fn.name}")
