"""Distributed measurement benchmark (issue 17): 1 rank against 2 ranks with the same total cores.

    nice python benchmarks/bench_distributed.py [--quick]   # its rows; benchmarks/run.py: the suite

Measured side by side on this machine:
  - `infonb.pid.layer_pid` of the 64-channel conv2 layer of an untrained, seeded WideCNN at n = 500
    (as in bench_pid.py): 2016 pairs and 64 self pairs;
  - `InfoFlow.measure` of an untrained, seeded LeNet-5 (5 layers) with three estimators in two Gram
    groups (knn widths at alpha 1.01 and 2, median widths) and a scale test (x4): 2 x 5 x 2 = 20
    pieces.
1 rank runs with torch.set_num_threads(2); 2 ranks (local gloo processes, distributed.launch) with
1 thread each, so both sides use the same 2 cores. Times are taken inside the processes around
the call (process start and imports excluded); the 2-rank time is the slower rank's. With 2 cores
the gain is bounded by 2x and usually less: the threaded eigendecompositions of one process
already use both cores, and the ranks share one memory bus. Each row also gives the share of pairs
(pieces) each rank computed and the largest difference between the two results (other thread
counts: other BLAS blockings, rounding only).

On paper, from the measured cost per pair of the 1-rank run: one 512-channel layer of VGG-16
(130,816 pairs and 512 self pairs) on 1, 8 and 64 ranks, each rank as fast as this 2-core machine
(a GPU's speed-up over it divides every row alike), with the data each rank receives
(`infonb.distributed.measurement_traffic`: the other ranks' rows of the layer's probe outputs, and
a few numbers per pair).
"""
import sys, time, warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
if str(ROOT / 'benchmarks') not in sys.path: sys.path.insert(0, str(ROOT / 'benchmarks'))
from timing import timed
from infonb.distributed import launch, measurement_traffic, world
from infonb.pid import layer_pid, mmi_redundancy

VGG_CHANNELS, VGG_VALUES = 512, 512 * 4 * 4  # 512-channel VGG-16 layer, 32 x 32 inputs: 4 x 4 maps


def _counting():
    "An MMI redundancy that counts the pairs it is called on (the pairs this rank computes)."
    done = [0]
    def rdn(mi_iy, mi_jy, mi_ijy, **kw):
        done[0] += len(mi_iy)
        return mmi_redundancy(mi_iy, mi_jy, mi_ijy)
    return rdn, done


def _pid(acts, y, threads:int)->tuple:
    "layer_pid timed in this process with `threads` torch threads: (seconds, pairs done, LayerPID)."
    torch.set_num_threads(threads)
    warnings.simplefilter('ignore')  # an untrained layer may hold a dead channel: timed anyway
    layer_pid(acts[:50], y[:50], pairs=2)  # warm-up outside the timing
    rdn, done = _counting()
    if world()[1] > 1: torch.distributed.barrier()
    t, r = timed(lambda: layer_pid(acts, y, redundancy=rdn))
    return t, done[0], r


def _flow(n:int, threads:int)->tuple:
    "InfoFlow.measure of a LeNet-5, three estimators, a scale: (seconds, pieces computed, records)."
    import infonb.flow as F
    from infonb.estimator import Estimator
    from infonb.distributed import _lenet_probe
    torch.set_num_threads(threads)
    warnings.simplefilter('ignore')
    net, probe = _lenet_probe(n)
    ests = [Estimator(), Estimator(alpha=2), Estimator(width='median')]
    # the forward pass in the chunks of 2 ranks
    flow = F.InfoFlow(net, probe, estimators=ests, scales=(4,), batch_size=-(-n // 2))
    done, piece = [0], F._piece
    def counting(*a, **kw):
        done[0] += 1
        return piece(*a, **kw)
    F._piece = counting
    try:
        if world()[1] > 1: torch.distributed.barrier()
        t, records = timed(lambda: flow.measure(0))
    finally: F._piece = piece
    return t, done[0], records


def _largest_difference(a:list, b:list)->float:
    "Largest |difference| over the numbers of two lists of records."
    return max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in x
               if isinstance(x[k], float) and x[k] == x[k])


def _row(case, n, one, two, shares, error, note)->dict:
    return dict(suite='distributed', case=case, n=n, method='2 ranks x 1 thread',
                baseline='1 rank x 2 threads', t=two, t_baseline=one, speedup=one / two,
                error=error, error_kind='abs', target=None, met=None,
                note=f'per rank {shares}; {note}')


def on_paper(t_pair:float, n:int)->list:
    "Rows for one 512-channel VGG-16 layer on 1, 8 and 64 ranks from the measured cost per pair."
    P = VGG_CHANNELS * (VGG_CHANNELS - 1) // 2 + VGG_CHANNELS  # pairs and self pairs
    rows = []
    for ranks in (1, 8, 64):
        mb = measurement_traffic(n, [VGG_VALUES], ranks, entropies=P) / 1e6 if ranks > 1 else 0.0
        case = f'VGG-16 512-channel layer ({P - VGG_CHANNELS} pairs)'
        rows.append(dict(suite='distributed', case=case,
                         n=n, method=f'on paper: {ranks} rank' + 's' * (ranks > 1), baseline=None,
                         t=t_pair * -(-P // ranks), t_baseline=None, speedup=None, error=None,
                         target=None, met=None,
                         note=f'{-(-P // ranks)} pairs per rank x {t_pair * 1e3:.1f} ms/pair '
                              f'measured (n={n}); each rank receives {mb:.1f} MB'))
    return rows


def run(quick=False)->list:
    "Rows for benchmarks/run.py: PID, a multi-estimator measurement on 1 vs 2 ranks; VGG on paper."
    from bench_pid import layer_activations
    n = 200 if quick else 500
    acts, y, where = layer_activations(64, n)
    t1, p1, r1 = _pid(acts, y, 2)
    two = launch(_pid, 2, (acts, y, 1), timeout=1800)
    t2, shares = max(t for t, _, _ in two), [p for _, p, _ in two]
    err = max((r1.synergy - two[0][2].synergy).nan_to_num().abs().max().item(),
              (r1.redundancy - two[0][2].redundancy).nan_to_num().abs().max().item())
    rows = [_row('layer_pid, 64 channels (2016 pairs + 64 self)', n, t1, t2,
                 f'{shares} of {p1} pairs', err, f'{where}; gain bounded by 2 cores')]
    f1, k1, rec1 = _flow(n, 2)
    ftwo = launch(_flow, 2, (n, 1), timeout=1800)
    f2, fshares = max(t for t, _, _ in ftwo), [k for _, k, _ in ftwo]
    rows.append(_row('InfoFlow.measure, LeNet-5, 3 estimators x scale x4', n, f1, f2,
                     f'{fshares} of {sum(fshares)} pieces (one process: batched, not in pieces)',
                     _largest_difference(rec1, ftwo[0][2]),
                     '2 Gram groups x 5 layers x 2 scales; forward pass split; gain bounded by '
                     '2 cores'))
    return rows + on_paper(t1 / p1, n)


if __name__ == '__main__':
    from run import suite_main
    suite_main(run)
