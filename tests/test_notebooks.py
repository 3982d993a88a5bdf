"""Run every notebook in `nbs/` through nbdev's own test runner, one pytest test per notebook.

Cells flagged with `tst_flags` (settings.ini: notest slow cuda) are skipped; set INFONB_NB_FLAGS="slow" to
run them too. Each notebook runs in its own process, as `nbdev_test` does, so that no state leaks.
"""
import os, subprocess, sys
from configparser import ConfigParser
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
SKIP = cfg['DEFAULT'].get('tst_flags', '').split()
FORCE = os.environ.get('INFONB_NB_FLAGS', '').split()
NBS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb')
             if not any(part.startswith(('.', '_')) for part in p.relative_to(ROOT/'nbs').parts))

RUNNER = """
import sys
from pathlib import Path
from nbdev.test import test_nb
ok, secs = test_nb(Path(sys.argv[1]), skip_flags=sys.argv[2].split(), force_flags=sys.argv[3].split())
print(f'{sys.argv[1]}: {secs:.1f}s')
sys.exit(0 if ok else 1)
"""

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore::DeprecationWarning'}
    r = subprocess.run([sys.executable, '-c', RUNNER, str(nb), ' '.join(SKIP), ' '.join(FORCE)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    if r.returncode: pytest.fail(f'{nb.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}', pytrace=False)

def test_found_notebooks(): assert len(NBS) >= 2, NBS
