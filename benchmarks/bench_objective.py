"""The information-bottleneck objective's cost (issue 15): a LeNet-5 training step with cross-entropy + beta I(X;T)
of fc1 on the mini-batch, against a plain cross-entropy step, at mini-batch 128 and 256, side by side in one run.

    python benchmarks/bench_objective.py [--quick]

A step is forward, loss, backward and an Adam update on random 28 x 28 images (the cost does not depend on the data);
each side is the best of `repeats` timings of `steps` consecutive steps.
"""
import sys
from pathlib import Path
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / 'benchmarks'):
    if str(p) not in sys.path: sys.path.insert(0, str(p))
from timing import timed
from infonb.models import LeNet5
from infonb.objective import InformationBottleneck

def _steps(batch:int, steps:int, beta:float|None)->callable:
    "A function running `steps` training steps of a fresh seeded LeNet-5 (beta None: plain cross-entropy)."
    torch.manual_seed(0)
    net = LeNet5()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.randn(batch, 1, 28, 28), torch.arange(batch) % 10
    loss = None if beta is None else InformationBottleneck(net, 'fc1', beta)
    def run():
        if loss is not None: loss.__enter__()
        try:
            for _ in range(steps):
                opt.zero_grad()
                out = net(x)
                (F.cross_entropy(out, y) if loss is None else loss(out, y)).backward()
                opt.step()
        finally:
            if loss is not None: loss.__exit__(None, None, None)
    return run

def run(quick:bool=False)->list:
    "Rows: per batch size, the IB step's time against a plain step's."
    (steps, repeats), rows = ((3, 2) if quick else (10, 3)), []
    for batch in (128, 256):
        t_plain, _ = timed(_steps(batch, steps, None), repeats)
        t_ib, _ = timed(_steps(batch, steps, 1e-2), repeats)
        rows.append(dict(suite='bench_objective', case=f'LeNet-5 step, I(X;T) of fc1', n=batch, method='ce + beta I(X;T)',
                         baseline='cross-entropy', t=t_ib / steps, t_baseline=t_plain / steps,
                         speedup=t_plain / t_ib, overhead=round(t_ib / t_plain, 2)))
    return rows

if __name__ == '__main__':
    from run import suite_main
    suite_main(run)
