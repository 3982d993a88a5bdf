"""Training on several processes: `fit` under DistributedDataParallel against its one-process reference, `infonb run
--nproc 2` end to end (one run folder, a failing rank, --resume) and `infonb sweep --nproc 2` against one process; CPU,
gloo, 2 local processes started by the tests."""
import json, math, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / '.venv' / 'bin' / 'infonb'
CMD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, '-c', 'import sys; from infonb.cli import main; sys.exit(main())']
TINY = ['--train-size', '256', '--test-size', '100', '--probe-size', '20', '--measure-every', '2', '--threads', '1',
        '--quiet', '--nproc', '2']  # 2 steps of 128 per epoch
LAYERS = {'conv1', 'conv2', 'fc1', 'fc2', 'fc3'}


def infonb(*args, env=None, timeout=240):
    e = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore', **(env or {})}
    return subprocess.run([*CMD, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)


def records(out: Path) -> list:
    return [json.loads(l) for l in (out / 'records.jsonl').read_text().splitlines() if l.strip()]


def written_once(out: Path) -> list:
    "The measured steps, each layer recorded once per step (one file, one writer)."
    recs = records(out)
    keys = [(r['step'], r['layer']) for r in recs]
    assert len(keys) == len(set(keys)), 'a record was written twice'
    steps = sorted({s for s, _ in keys})
    assert all({l for s, l in keys if s == t} == LAYERS for t in steps)
    return steps


def same(a, b) -> bool:
    "Equal values, NaN equal to NaN (the first measurement's train_loss)."
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b): return True
    if isinstance(a, dict) and isinstance(b, dict): return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def close(a, b) -> bool:
    "Nested records equal, floats to 1e-12 relative: the measurement's entropies of a layer decomposed alone on a"
    "rank vs in a stack of layers in one process (eigvalsh of the same matrices, batched differently)."
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b) or abs(a - b) <= 1e-12 * max(1.0, abs(a))
    if isinstance(a, dict) and isinstance(b, dict): return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def test_fit_on_two_ranks_equals_one_process_with_two_shards():
    "The training exactly (history without timings, the tracker's calls, the final weights): DDP averages the two"
    "shards' gradients, (g0 + g1) / 2, and the reference scales each shard's loss by 1/2 (exact) and sums; the"
    "InfoFlow records of the same steps to 1e-12 (see `close`)."
    import torch
    from infonb.distributed import launch
    from infonb.train import _ddp_example
    threads = torch.get_num_threads()
    try:
        two = launch(_ddp_example, 2, (None, 0, 2, 1, True), timeout=60)
        one = _ddp_example(shards=2, flow=True)
        plain = _ddp_example(shards=1)
    finally: torch.set_num_threads(threads)
    for got in two:
        assert same({k: v for k, v in got.items() if k != 'records'}, {k: v for k, v in one.items() if k != 'records'})
        assert close(got['records'], one['records']) and len(one['records']) == 5 * 2  # 5 steps, 2 layers
    assert [c['step'] for c in one['calls']] == [0, 2, 4, 6, 8] and one['history'][-1]['step'] == 8
    assert not same(plain['weights'], one['weights'])  # the shards matter: the reference is not the plain loop


def test_fit_refuses_a_batch_that_leaves_a_shard_empty():
    import torch
    from infonb.train import fit
    data = torch.randn(33, 4), torch.arange(33) % 2
    with pytest.raises(ValueError, match='a batch of 1 samples leaves one of the 2 shards empty'):
        fit(torch.nn.Linear(4, 2), data, batch_size=16, shards=2, progress=False, device='cpu')


@pytest.fixture(scope='module')
def two(tmp_path_factory):
    "A 1-epoch run on 2 local processes (--nproc 2): (folder, result)."
    out = tmp_path_factory.mktemp('ddp') / 'run'
    return out, infonb('run', *TINY, '--epochs', '1', '--out', str(out))


def test_run_on_two_processes_writes_one_run(two):
    out, r = two
    assert r.returncode == 0, r.stderr[-3000:]
    assert written_once(out) == [0, 2]
    assert json.loads((out / 'config.json').read_text())['ranks'] == 2
    assert {'dpi.json', 'info_plane.png', 'history.json', 'model.pt'} <= {p.name for p in out.iterdir()}
    assert r.stdout.count('test accuracy: ') == 1  # one summary, by rank 0
    assert not (out / 'run.lock').exists()


def test_torchrun_equals_nproc(two, tmp_path):
    "torchrun's 2 ranks (gloo on the CPU) make the same records as --nproc 2: the same computation."
    out = tmp_path / 'run'
    cmd = [str(ROOT / '.venv' / 'bin' / 'torchrun'), '--nproc_per_node', '2', '--no-python', *CMD, 'run',
           *TINY[:-2], '--epochs', '1', '--out', str(out)]
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert records(out) == records(two[0])  # exact: the same arithmetic, no timings in records


@pytest.fixture(scope='module')
def crashed(tmp_path_factory):
    "A 2-epoch run on 2 processes whose rank 1 crashes right after its 2nd measurement: (folder, result)."
    out = tmp_path_factory.mktemp('ddp') / 'run'
    crash = {'INFONB_TEST_CRASH_AFTER': '2', 'INFONB_TEST_RANK': '1'}
    return out, infonb('run', *TINY, '--epochs', '2', '--out', str(out), env=crash)


def test_a_failing_rank_stops_both(crashed):
    "Its error once (by rank 1), the resume hint once (by rank 0), status 1, the records valid."
    out, r = crashed
    assert r.returncode == 1, r.stderr[-3000:]
    assert r.stderr.count('RuntimeError: simulated crash (INFONB_TEST_CRASH_AFTER)') == 1, r.stderr[-3000:]
    assert r.stderr.count('Continue with: infonb run --resume') == 1
    assert 'stopped: another rank failed' in r.stderr
    assert written_once(out) == [0, 2] and not (out / 'run.lock').exists()


def test_resume_on_two_processes(crashed):
    out, _ = crashed
    r = infonb('run', '--resume', '--out', str(out), '--quiet', '--nproc', '2')
    assert r.returncode == 0, r.stderr[-3000:]
    assert written_once(out) == [0, 2, 4]
    assert [h['epoch'] for h in json.loads((out / 'history.json').read_text())] == [1, 2]


@pytest.mark.parametrize('bad, msg', [(['--nproc', '0'], 'argument --nproc: must be'),
                                       (['--nproc', '2', '--batch-size', '1'], 'argument --batch-size: 1: every batch'),
                                       (['--nproc', '2', '--train-size', '257', '--batch-size', '128'],
                                        'argument --batch-size: 128: every batch'),
                                       (['--nproc', '16', '--probe-size', '10'], 'argument --probe-size: a probe of n=10')])
def test_rank_options_are_checked_before_any_process(bad, msg, tmp_path, capsys):
    from infonb.cli import main
    with pytest.raises(SystemExit) as e: main(['run', '--quiet', '--out', str(tmp_path / 'o'), *bad])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f'infonb run: error: {msg}') and err.count('\n') == 1, err
    assert not (tmp_path / 'o').exists()


def test_sweep_on_two_processes_equals_one(tmp_path):
    "Each run is one process's own, seeded by its (layer, count, seed): the same records but the timings."
    from infonb.sweep import load_sweep
    tiny = ['sweep', '--dataset', 'fashion-mnist', '--counts', '1', '2', '--seeds', '0', '1', '--n-train', '200',
            '--n-test', '100', '--probe-size', '20', '--threads', '1', '--quiet']
    for name, extra in (('one', []), ('two', ['--nproc', '2'])):
        r = infonb(*tiny, *extra, '--out', str(tmp_path / name))
        assert r.returncode == 0, r.stderr[-3000:]
    (one, _), (two, cfg) = (load_sweep(tmp_path / n / 'sweep.json') for n in ('one', 'two'))
    untimed = lambda rs: [{k: v for k, v in r.items() if not k.startswith('seconds')} for r in rs]
    assert same(untimed(two), untimed(one)) and len(one) == 4
    assert not list((tmp_path / 'two').glob('sweep.rank*'))
