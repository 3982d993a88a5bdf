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
