"""infonb.records: no torch on import, the one reader, series-aware grouping and DPI reports, the JSONL file (broken
and binary lines), atomic JSON, and the run folder's lock (held, released, stale) exercised with real processes."""
import json, math, os, signal, socket, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest

import infonb.records as rec
from infonb.records import (RECORD_KEYS, SERIES_KEYS, LOCK_FILE, RunLock, RunLockedError, append_records, as_records,
                            by_step, check_series, dpi_report, dpi_reports, group_by, layers_of, load_records, plain,
                            quantities, read_json, select, series, steps_of, to_frame, trajectories, write_json_atomic)

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'PYTHONPATH': str(ROOT)}


def fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)


def chain(step, values, **kw):
    "Records of layers a, b, c at one step with (I_XT, I_TY) pairs."
    return [dict(step=step, epoch=step / 10, layer=l, depth=i + 1, I_XT=v[0], I_TY=v[1], **kw)
            for i, (l, v) in enumerate(zip('abc', values))]


# ------------------------------------------------------------------------------------------ import cost
def test_import_loads_neither_torch_nor_numpy():
    r = fresh("import sys, infonb.records; print(sorted(m for m in ('torch', 'numpy', 'pandas', 'matplotlib') "
              "if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'


# ------------------------------------------------------------------------------------------ plain values
def test_plain():
    torch = pytest.importorskip('torch')
    assert plain({'a': (np.float32(1.5), float('nan')), 2: np.arange(2)}) == {'a': [1.5, None], '2': [0, 1]}
    assert plain(torch.tensor([[1., float('inf')]])) == [[1.0, None]]
    assert plain(torch.tensor(3)) == 3 and plain(np.bool_(False)) is False
    with pytest.raises(TypeError, match=r"x\[0\] = <object"): plain([object()], 'x')


# ------------------------------------------------------------------------------------------ the JSONL file
def test_jsonl_round_trip_and_broken_lines(tmp_path):
    path = tmp_path / 'r.jsonl'
    append_records(path, [{'step': 0, 'v': 1.5}, {'step': 1, 'v': None}])
    assert load_records(path) == [{'step': 0, 'v': 1.5}, {'step': 1, 'v': None}]
    with open(path, 'ab') as f: f.write(b'{"step": 2, "v"')          # cut short by a crash: skipped, warned
    with pytest.warns(UserWarning, match=r'r.jsonl: skipped the last line \(3\)'):
        assert len(load_records(path)) == 2


@pytest.mark.parametrize('garbage, message', [
    (b'\x89PNG\r\n\x1a\n\x00\x00\xff\xfe', 'line 2: not UTF-8 text (binary data?)'),
    (b'\x00\x01\x02\x03', 'line 2: not valid JSON'),
    (b'{"step": 1,,}', 'line 2: not valid JSON'),
    (b'"just a string"', 'line 2: a record must be a JSON object, got str'),
])
def test_garbage_in_the_middle_names_file_and_line(tmp_path, garbage, message):
    path = tmp_path / 'records.jsonl'
    path.write_bytes(b'{"step": 0}\n' + garbage + b'\n{"step": 2}\n')
    with pytest.raises(ValueError) as e: load_records(path)
    assert str(e.value).startswith(f'{path}, line 2') and message in str(e.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='no records file'): load_records('/nonexistent/records.jsonl')


# ------------------------------------------------------------------------------------------ one reader
def test_as_records_forms(tmp_path):
    recs = chain(0, [(3, 2), (2, 1), (1, 0.5)])
    path = tmp_path / 'r.jsonl'
    append_records(path, recs)
    class Tracker: records = recs
    for form in (recs, tuple(recs), iter(recs), path, str(path), Tracker()):
        assert as_records(form) == recs
    assert as_records(recs)[0] is not recs[0]
    with pytest.raises(TypeError, match='list \\(or iterable\\) of dicts'): as_records(recs[0])
    with pytest.raises(TypeError, match=r"to_dict\('records'\)"):
        as_records(type('DataFrame', (), {'__iter__': lambda s: iter([])})())
    with pytest.raises(ValueError, match=r"records\[0\] lacks \['layer'\]"): as_records([{'step': 0}])
    with pytest.raises(ValueError, match='step must be an integer'): as_records([{'step': True, 'layer': 'a'}])


def test_quantities_layers_steps():
    recs = chain(10, [(3, 2), (2, 1), (1, 0.5)]) + chain(0, [(3, 2), (2, 1), (1, 0.5)])
    assert quantities(recs) == ['step', 'epoch', 'depth', 'I_XT', 'I_TY']
    assert layers_of(list(reversed(recs))) == ['a', 'b', 'c'] and steps_of(recs) == [0, 10]


# ------------------------------------------------------------------------------------------ series and groups
SERIES = (chain(0, [(3, 2), (2, 1), (1, .5)], estimator='tensor', scale=1.0)
          + chain(0, [(3, 2), (3.5, 1), (1, .5)], estimator='tensor', scale=4.0)
          + chain(0, [(3, 2), (2, 2.5), (1, .5)], estimator='hadamard', scale=1.0)
          + chain(10, [(3, 2), (2, 1), (1, .5)], estimator='tensor', scale=1.0)
          + chain(10, [(3, 2), (2, 1), (1, .5)], estimator='tensor', scale=4.0)
          + chain(10, [(3, 2), (2, 1), (1, .5)], estimator='hadamard', scale=1.0))


def test_series_select_group_by():
    assert SERIES_KEYS == ('estimator', 'scale') and not set(SERIES_KEYS) & set(RECORD_KEYS)
    assert series(SERIES) == [{'estimator': 'tensor', 'scale': 1.0}, {'estimator': 'tensor', 'scale': 4.0},
                              {'estimator': 'hadamard', 'scale': 1.0}]
    assert series(chain(0, [(1, 1)] * 3)) == [{}]
    assert len(select(SERIES, estimator='tensor')) == 12 and len(select(SERIES, estimator='tensor', scale=4.0)) == 6
    groups = group_by(SERIES, ('estimator', 'scale'))
    assert list(groups) == [('tensor', 1.0), ('tensor', 4.0), ('hadamard', 1.0)] and all(len(g) == 6 for g in groups.values())
    assert list(group_by(SERIES, 'step')) == [0, 10]


def test_by_step_keeps_series_apart():
    steps = by_step(SERIES)
    assert list(steps) == [0, 10] and len(steps[0]) == 9
    assert [(r['estimator'], r['scale'], r['layer']) for r in steps[0][:4]] == [
        ('tensor', 1.0, 'a'), ('tensor', 1.0, 'b'), ('tensor', 1.0, 'c'), ('tensor', 4.0, 'a')]
    with pytest.raises(ValueError, match="layer 'a' twice at step 0 \\(estimator='tensor', scale=1.0\\)"):
        by_step(SERIES + SERIES[:1])
    old = chain(0, [(3, 2), (2, 1), (1, .5)])
    with pytest.raises(ValueError, match="layer 'a' twice at step 0: records of several runs"): by_step(old + old[:1])
    with pytest.raises(ValueError, match='hold 3 series'): check_series(SERIES)


# ------------------------------------------------------------------------------------------ DPI reports
def test_dpi_report_of_one_series_as_before():
    recs = chain(0, [(3, 2), (2, 2.5), (1, 1)]) + chain(10, [(3, 2), (2, 1.9), (1.05, 1)]) + chain(20, [(3, 2), (3.2, 1), (1, .5)])
    r = dpi_report(recs)
    assert r.steps == [0, 10, 20] and r.layers == ['a', 'b', 'c'] and r.estimator is None
    # 2 of 3 steps: the same division, so 2 / 3 to rounding (isclose's default rel_tol 1e-9 is ample)
    assert math.isclose(r.fraction['DPI-1'], 2 / 3) and r.pair_fraction['DPI-2'] == {'a>b': 2 / 3, 'b>c': 1.0}
    assert [(v['chain'], v['step']) for v in r.violations] == [('DPI-2', 0), ('DPI-1', 20)]
    assert 'estimator' not in r.to_dict() and json.loads(json.dumps(r.to_dict()))['n_violations'] == {'DPI-1': 1, 'DPI-2': 1}
    with pytest.raises(ValueError, match="twice at step 0"): dpi_report(recs + recs[:1])
    for tol in (-1, float('nan'), float('inf'), True):
        with pytest.raises(ValueError, match='tol must be a finite number >= 0'): dpi_report(recs, tol)


def test_dpi_report_per_estimator_and_scale():
    with pytest.raises(ValueError, match='records hold 3 series'): dpi_report(SERIES)
    with pytest.raises(ValueError, match='records hold 2 series'): dpi_report(SERIES, estimator='tensor')
    with pytest.raises(ValueError, match="no records with {'estimator': 'lowrank'}"): dpi_report(SERIES, estimator='lowrank')
    r = dpi_report(SERIES, estimator='tensor', scale=4.0)
    assert (r.estimator, r.scale, r.steps, r.fraction['DPI-1']) == ('tensor', 4.0, [0, 10], 0.5)
    assert r.to_dict()['estimator'] == 'tensor' and r.to_dict()['scale'] == 4.0
    assert dpi_report(SERIES, estimator='hadamard').fraction['DPI-2'] == 0.5  # one scale only: no need to name it
    reports = dpi_reports(SERIES)
    assert list(reports) == [('tensor', 1.0), ('tensor', 4.0), ('hadamard', 1.0)]
    assert [x.fraction['DPI-1'] for x in reports.values()] == [1.0, 0.5, 1.0]


def test_trajectories_need_one_series():
    tr = trajectories(select(SERIES, estimator='tensor', scale=1.0), ('step', 'I_XT'))
    assert list(tr) == ['a', 'b', 'c'] and tr['b']['step'].tolist() == [0.0, 10.0]
    with pytest.raises(ValueError, match='hold 3 series'): trajectories(SERIES, ('I_XT',))
    with pytest.raises(ValueError, match='no records to plot'): trajectories([], ('I_XT',))


def test_to_frame():
    pd = pytest.importorskip('pandas')
    df = to_frame(SERIES)
    assert df.shape == (18, 8) and df.equals(pd.DataFrame(SERIES))


# ------------------------------------------------------------------------------------------ atomic JSON
def test_write_json_atomic_and_read_json(tmp_path):
    path = write_json_atomic(tmp_path / 'h.json', [{'loss': float('nan'), 'acc': np.float64(0.5)}])
    assert read_json(path) == [{'loss': None, 'acc': 0.5}]
    with pytest.raises(TypeError): write_json_atomic(path, {'x': object()})
    assert read_json(path) == [{'loss': None, 'acc': 0.5}]           # a failed write leaves the old file
    assert sorted(p.name for p in tmp_path.iterdir()) == ['h.json']   # and no temporary file
    (tmp_path / 'bad.json').write_bytes(b'\x00\xff')
    with pytest.raises(ValueError, match='bad.json: not UTF-8 text'): read_json(tmp_path / 'bad.json')


def test_write_json_atomic_never_leaves_half_a_file(tmp_path):
    "A writer killed mid-write (SIGKILL) leaves the old file whole: readers see old or new, never half."
    path = tmp_path / 'big.json'
    write_json_atomic(path, {'old': True})
    code = (f"from infonb.records import write_json_atomic\n"
            f"while True: write_json_atomic({str(path)!r}, {{'rows': list(range(200000))}})")
    proc = subprocess.Popen([sys.executable, '-c', code], env=ENV, cwd=ROOT)
    try:
        seen = set()
        deadline = time.time() + 60
        while time.time() < deadline and len(seen) < 2:
            d = read_json(path)                                     # never a JSON error
            seen.add('old' if 'old' in d else 'new')
        assert 'new' in seen
    finally:
        proc.kill(); proc.wait()
    assert isinstance(read_json(path), dict)


# ------------------------------------------------------------------------------------------ the lock
def test_lock_is_exclusive_and_released(tmp_path):
    folder = tmp_path / 'run'
    with RunLock(folder) as lock:
        owner = read_json(folder / LOCK_FILE)
        assert owner['pid'] == os.getpid() and owner['host'] == socket.gethostname()
        with pytest.raises(RunLockedError, match=f'is in use by another infonb run \\(pid {os.getpid()}'):
            RunLock(folder).acquire()
        assert lock.acquire() is lock                                # taking it again is a no-op
    assert not (folder / LOCK_FILE).exists()
    with RunLock(folder) as again: assert again.previous is None


def holder(folder, what='infonb run'):
    "A child process holding the lock of `folder` until killed."
    code = (f"import time; from infonb.records import RunLock; RunLock({str(folder)!r}, {what!r}).acquire(); "
            "print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, '-c', code], env=ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def test_lock_held_by_another_process_then_stale(tmp_path):
    folder = tmp_path / 'run'
    proc = holder(folder, 'infonb sweep')
    try:
        with pytest.raises(RunLockedError, match=f'in use by another infonb sweep \\(pid {proc.pid} on'):
            RunLock(folder).acquire()
    finally:
        proc.send_signal(signal.SIGKILL); proc.wait()
    assert read_json(folder / LOCK_FILE)['pid'] == proc.pid          # left behind: stale
    with RunLock(folder) as lock:
        assert lock.previous['pid'] == proc.pid
        assert read_json(folder / LOCK_FILE)['pid'] == os.getpid()


def test_lock_file_with_a_dead_pid_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    folder = tmp_path / 'run'; folder.mkdir()
    (folder / LOCK_FILE).write_text(json.dumps({'pid': int(dead.stdout), 'host': socket.gethostname()}))
    with RunLock(folder) as lock: assert lock.previous['pid'] == int(dead.stdout)


def test_lock_without_flock(tmp_path, monkeypatch):
    "Where there is no fcntl (Windows) the lock file is created exclusively; a dead pid's file is taken over."
    monkeypatch.setattr(rec, 'fcntl', None)
    folder = tmp_path / 'run'
    with RunLock(folder):
        with pytest.raises(RunLockedError, match=f'pid {os.getpid()}'): RunLock(folder).acquire()
    assert not (folder / LOCK_FILE).exists()
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    (folder / LOCK_FILE).write_text(json.dumps({'pid': int(dead.stdout)}))
    with RunLock(folder) as lock: assert lock.previous == {'pid': int(dead.stdout)}
