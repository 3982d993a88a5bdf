"""infonb.distributed on 2 CPU processes joined by gloo, spawned by the tests."""
import time
import pytest
import torch
from infonb.distributed import RankError, gather_rows, launch, shard, share_work, world, probe_outputs, probe_chunk

def _gather_uneven(n:int):
    "Each rank holds its shard of n rows; every rank gets all n."
    part = shard(n)
    rows = torch.arange(part.start, part.stop, dtype=torch.float64)[:, None].repeat(1, 3)
    return gather_rows(rows).tolist(), world()

def _probe_outputs(seed:int):
    "The split forward pass of a probe equals the whole one, on every rank."
    from infonb.models import LeNet5
    from infonb.hooks import layer_outputs
    torch.manual_seed(seed)
    net, x = LeNet5(), torch.randn(11, 1, 28, 28)
    got = probe_outputs(net, x)
    alone = layer_outputs(net, x, batch_size=probe_chunk(len(x), 2))  # one process, the same chunks
    return all(torch.equal(v, alone[k]) for k, v in got.items())

def _raise_inside(rank:int, sleep:float):
    "Rank `rank` raises in its share of the work; the other ranks would go on to the gather."
    me = world()[0]
    def work(i):
        if me == rank: raise KeyError(f'item {i}')
        time.sleep(sleep)
        return i
    return share_work(work, list(range(6)))

def test_gather_uneven_rows():
    out = launch(_gather_uneven, 2, (7,))
    assert [w for _, w in out] == [(0, 2), (1, 2)]
    assert out[0][0] == out[1][0] == [[float(i)] * 3 for i in range(7)]

def test_split_forward_equals_whole():
    assert launch(_probe_outputs, 2, (0,)) == [True, True]

def test_a_rank_raising_stops_both_with_its_error():
    t0 = time.perf_counter()
    with pytest.raises(RankError, match="rank 1 of 2 failed: KeyError: 'item 3'"):
        launch(_raise_inside, 2, (1, 0.0), timeout=30)
    assert time.perf_counter() - t0 < 60  # ended by the failure, not by a hung collective (timeout 30 s)

def test_single_process_is_a_plain_loop():
    assert world() == (0, 1)
    assert share_work(lambda i: -i, range(4)) == [0, -1, -2, -3]
    x = torch.ones(3, 2)
    assert gather_rows(x) is x

# --- collective measurement: InfoFlow.measure, layer_pid, mi_matrix on 2 ranks ---------------------------
import json
from infonb import distributed as D
from infonb.records import load_records

N = 30  # the probe of `D._measure_demo`

def close(a, b)->bool:
    "Nested records equal, floats to 1e-12 relative (one layer or pair decomposed alone vs in a stack)."
    if isinstance(a, float):
        return a == b or (a != a and b != b) or abs(a - b) <= 1e-12 * max(1.0, abs(a))
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(map(close, a, b))
    if isinstance(a, dict): return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b

def one_process(steps=(0, 1)):
    "The single-process run whose forward pass takes the probe in the chunks of two ranks."
    return D._measure_demo(steps=steps, batch_size=probe_chunk(N, 2))

def _ddp_and_bare(path):
    "A DDP-wrapped network measured into `path`, and a bare one in memory."
    return D._measure_demo(path, ddp=True), D._measure_demo(steps=(0,))

def _mi_split(L:int, n:int):
    "mi_matrix of L random layers; (pairs of layers this rank computed, the matrix)."
    from infonb import flow
    g = torch.Generator().manual_seed(3)
    acts = {f'l{i}': torch.randn(n, 4, generator=g) for i in range(L)}
    probe = (torch.randn(n, 5, generator=g), torch.arange(n) % 3)
    done, pair = [0], flow._mi_pair
    def counting(*a):
        done[0] += 1
        return pair(*a)
    flow._mi_pair = counting
    try: mm = flow.mi_matrix(acts, probe)
    finally: flow._mi_pair = pair
    return done[0], mm

def _pairs():
    return D._pid_split(), _mi_split(6, 20)

def test_measure_equals_one_process_and_writes_once(tmp_path):
    path = tmp_path / 'run' / 'records.jsonl'
    (ddp0, bare0), (ddp1, bare1) = launch(_ddp_and_bare, 2, (path,))
    ref = one_process()
    assert ddp0 == ddp1 and bare0 == bare1  # every rank returns the same records and MI matrices
    assert close(ddp0['records'], ref['records']) and close(ddp0['mi'], ref['mi'])
    assert close(bare0['records'], [r for r in ref['records'] if r['step'] == 0])
    assert all(r['untouched'] for r in (ddp0, ddp1, bare0, bare1))  # weights, modes, RNG
    # written once, by rank 0: as many lines as records, and the MI matrices once per step and estimator
    assert close(load_records(path), ref['records'])
    assert len(path.read_text().splitlines()) == len(ref['records']) == 2 * 2 * 5 * 2
    assert len(load_records(path.with_name('records.mi.jsonl'))) == 4
    assert json.loads(path.with_name('records.settings.json').read_text())['n'] == N

def test_pid_and_mi_matrix_split_over_ranks():
    ((p0, pid0), (m0, mm0)), ((p1, pid1), (m1, mm1)) = launch(_pairs, 2)
    (p, pid_alone), (m, mm_alone) = D._pid_split(), _mi_split(6, 20)
    assert (p0, p1, p) == (68, 68, 136)  # 120 pairs and 16 self pairs, half on each rank
    assert (m0, m1) == (8, 7) and m == 0  # 15 pairs of layers; one process takes the stacked path
    for q in ('redundancy', 'synergy', 'unique', 'mi_pairs'):
        # each pair's Gram decomposed alone vs in a stack of pairs: to rounding
        assert torch.allclose(getattr(pid0, q), getattr(pid_alone, q), rtol=0, atol=1e-12, equal_nan=True)
        assert torch.equal(getattr(pid0, q).nan_to_num(), getattr(pid1, q).nan_to_num())
    assert (pid0.rst, pid0.wni, pid0.n_saturated) == (pid1.rst, pid1.wni, pid1.n_saturated)
    assert pid0.n_saturated == pid_alone.n_saturated
    assert torch.equal(mm0.M, mm1.M) and mm0.names == mm_alone.names
    assert torch.allclose(mm0.M, mm_alone.M, rtol=0, atol=1e-12)  # pairs alone vs stacked: rounding

def test_a_rank_raising_inside_measure_stops_both():
    t0 = time.perf_counter()
    with pytest.raises(RankError, match="rank 1 of 2 failed: KeyError: 'forward call 2'"):
        launch(D._measure_demo, 2, (None, False, (0, 1), None, False, (1, 2)), timeout=30)
    assert time.perf_counter() - t0 < 60  # ended by the failure, not by a hung collective (timeout 30 s)

def test_a_killed_run_resumes(tmp_path):
    path = tmp_path / 'records.jsonl'
    with pytest.raises(RankError):  # rank 1 killed in its forward pass at step 1
        launch(D._measure_demo, 2, (path, False, (0, 1, 2), None, False, None, (1, 2)), timeout=30)
    ref = one_process((0, 1, 2))
    assert close(load_records(path), ref['records'][:20])  # step 0 complete, nothing of step 1
    with open(path, 'a') as f:  # a write of step 1 cut short: its first record only
        f.write(json.dumps(ref['records'][20]) + '\n')
    out = launch(D._measure_demo, 2, (path, False, (0, 1, 2), None, True), timeout=30)
    assert out[0] == out[1] and close(out[0]['records'], ref['records'])  # step 1 measured again
    assert close(load_records(path), ref['records'])
