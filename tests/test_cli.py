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
    assert steps(out) == [0, 2] and (out / 'dpi.json').exists()


def test_sigint(tmp_path):
    "A real Ctrl-C (SIGINT) after the first record lands leaves a valid records.jsonl and exit status 130."
    out = tmp_path / 'run'
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
    args = ['run', '--train-size', '20000', '--test-size', '300', '--probe-size', '60', '--epochs', '1', '--measure-every', '1',
            '--threads', '1', '--quiet', '--out', str(out)]
    proc = subprocess.Popen([*CMD, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


@pytest.mark.parametrize('args, message', [
    (['--probe-size', '1'], 'argument --probe-size: must be >= 2'),
    (['--probe-size', '55'], 'argument --probe-size: must be a multiple of the 10 classes'),
    (['--alpha', '0'], 'argument --alpha: must be a finite number > 0'),
    (['--dataset', 'imagenet'], "argument --dataset: unknown dataset name='imagenet'"),
    (['--model', 'alexnet'], "argument --model: unknown model 'alexnet'"),
    (['--mode', 'product'], "argument --mode: invalid choice: 'product'"),
    (['--width', 'widest'], "argument --width: unknown width rule 'widest'"),
    (['--train-size', '70000'], 'argument --train-size: 70000 is more than the'),
    (['--measure-every', '0'], 'argument --measure-every: must be a positive integer (steps) or a fraction'),
    (['--epochs', '0'], 'argument --epochs: must be a positive integer, got 0'),
    (['--device', 'cuda:9' if not __import__('torch').cuda.is_available() else 'tpu'], 'argument --device: '),
])
def test_bad_options(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e: run_in_process(*args, '--out', str(tmp_path / 'bad'), '--quiet')
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('infonb run: error: ') and err.count('\n') == 1 and message in err, err
    assert not (tmp_path / 'bad' / 'records.jsonl').exists()


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
