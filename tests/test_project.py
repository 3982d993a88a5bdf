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


def test_contributing_table_is_up_to_date():
    "CONTRIBUTING.md's table of notebooks is what scripts/contributing_table.py makes from the notebooks."
    r = subprocess.run([sys.executable, 'scripts/contributing_table.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout
    text = (ROOT/'CONTRIBUTING.md').read_text()
    for nb in NBS: assert f'`{nb.name}`' in text, nb.name


# ---------------------------------------------------------------------------------------------- the public face
import importlib, importlib.util, os, types

REQUIRED = {'InfoFlow', 'Estimator', 'renyi_entropy', 'mutual_information', 'pid', 'layer_pid', 'dpi_report'}
HEAVY = ('torch', 'torchvision', 'matplotlib', 'ipywidgets', 'infonb.docs', 'infonb.sweep', 'infonb.plots')
def _here(module):
    "infonb has this module, here (not from another checkout an editable install may point to)."
    spec = importlib.util.find_spec(f'infonb.{module}')
    return spec is not None and Path(spec.origin or '').parent == ROOT/'infonb'


HAS_ESTIMATOR = _here('estimator')


def fresh(code):
    "stdout (stripped) of `code` in a fresh interpreter importing this checkout's infonb."
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_public_face_is_small_and_listed():
    import infonb
    assert len(infonb._PUBLIC) <= 30 and REQUIRED <= set(infonb._PUBLIC)
    assert len(set(infonb.__all__)) == len(infonb.__all__) and set(infonb.__all__) <= set(dir(infonb))
    here = {n for n, m in infonb._PUBLIC.items() if _here(m)}
    assert set(infonb.__all__) == here                     # a name whose module is missing is not listed
    assert ('Estimator' in infonb.__all__) == HAS_ESTIMATOR


def test_import_infonb_loads_nothing_heavy():
    assert fresh(f"import sys, infonb; print([m for m in {HEAVY} if m in sys.modules])") == '[]'
    # the tracker needs torch, but neither plotting nor widgets nor torchvision
    assert fresh(f"import sys, infonb; infonb.InfoFlow; print([m for m in {HEAVY} if m in sys.modules])") == "['torch']"


def test_every_public_name_comes_from_its_module():
    import infonb
    for name, module in infonb._PUBLIC.items():
        if module == 'estimator' and not HAS_ESTIMATOR: continue
        mod = importlib.import_module(f'infonb.{module}')
        assert getattr(infonb, name) is (mod if name == module else getattr(mod, name)), name


@pytest.mark.skipif(not HAS_ESTIMATOR, reason='infonb.estimator is not in this branch yet')
def test_estimator_is_public():
    import infonb
    from infonb.estimator import Estimator
    assert infonb.Estimator is Estimator


def test_star_import_gives_the_public_names():
    import infonb
    code = "from infonb import *\nprint(sorted(k for k in dir() if not k.startswith('_')))"
    assert fresh(code) == str(sorted(infonb.__all__))
    if not HAS_ESTIMATOR:  # asking for a name whose module is missing names the module
        with pytest.raises(AttributeError, match='infonb.Estimator comes from infonb.estimator, which is not there'):
            infonb.Estimator


def test_no_module_is_shadowed():
    "After `import infonb` and every public name, each submodule name of infonb is the module itself."
    import pkgutil, infonb
    for name in infonb.__all__:
        if name != 'Estimator' or HAS_ESTIMATOR: getattr(infonb, name)
    for m in pkgutil.iter_modules(infonb.__path__):
        mod = importlib.import_module(f'infonb.{m.name}')
        assert getattr(infonb, m.name) is mod, f'infonb.{m.name} is {getattr(infonb, m.name)!r}, not the module'


def test_pid_is_the_module():
    import infonb
    import infonb.pid as m
    assert isinstance(m, types.ModuleType) and hasattr(m, 'layer_pid')
    from infonb import pid
    assert pid is m and infonb.pid is m and infonb.layer_pid is m.layer_pid


def test_pid_module_is_callable():
    import torch
    from infonb import pid, gaussian_gram, label_gram
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 2, generator=g, dtype=torch.float64), torch.arange(20) % 2
    Ki, Kj, Ky = gaussian_gram(x[:, :1], 1.0), gaussian_gram(x[:, 1:], 1.0), label_gram(y)
    assert callable(pid)
    assert str(pid(Ki, Kj, Ky)) == str(pid.pid(Ki, Kj, Ky))


def test_tools_are_modules_of_their_own():
    "The docs builder and the sweep command are not loaded by `import infonb`, and still import and work."
    assert fresh("import sys, infonb; print('infonb.docs' in sys.modules, 'infonb.sweep' in sys.modules)") == 'False False'
    from infonb.docs import build_site, notebook_order
    from infonb.sweep import main, run_sweep
    assert callable(build_site) and callable(main) and len(notebook_order(ROOT/'nbs')) == len(NBS)
