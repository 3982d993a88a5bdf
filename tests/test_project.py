"""Project hygiene: README generated from index.ipynb, notebook conventions, CI wiring."""
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb'))

def test_readme_in_sync():
    r = subprocess.run([sys.executable, 'scripts/make_readme.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout

def test_readme_has_two_commands():
    text = (ROOT/'README.md').read_text()
    assert 'make run' in text and 'make test' in text

def test_ci_runs_readme_test_command():
    assert 'make test' in (ROOT/'.ci'/'run').read_text()

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook_conventions(nb):
    cells = json.loads(nb.read_text())['cells']
    md = [c for c in cells if c['cell_type'] == 'markdown']
    assert md, f'{nb.name} has no markdown'
    first = ''.join(md[0]['source']).strip().split('\n')
    # nbdev keeps only `# Title` and `> subtitle` from the first markdown cell
    assert first[0].startswith('# '), f'{nb.name}: first markdown cell must start with "# Title"'
    rest = [l for l in first[1:] if l.strip()]
    assert len(rest) <= 1 and all(l.startswith('> ') for l in rest), f'{nb.name}: first markdown cell holds more than title and subtitle'
    for c in cells:
        if c['cell_type'] == 'code':
            assert c.get('execution_count') is None, f'{nb.name} is not clean (execution counts)'
    src = ''.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    if '#| export' in src: assert '#| default_exp' in src, f'{nb.name} exports without #| default_exp'
