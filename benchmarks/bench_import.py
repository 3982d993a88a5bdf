"""Import and start-up times (issue 16): what a user waits for before anything is computed.

    python benchmarks/bench_import.py [--quick] [--repeats N]   # prints its rows; benchmarks/run.py runs the whole suite

Each command runs in a fresh interpreter (a subprocess), all of them side by side in one loop, `repeats` times (5 by
default, after one warm-up round that fills the page cache), and each row is the median wall time:
  - `python -c "import torch"`: the reference;
  - `python -c "import infonb"`: target <= 1.2 x `import torch` (the package loads its names only when used);
  - `python -c "import infonb; infonb.InfoFlow"`: the tracker, which needs torch (no target; for the ratio);
  - `infonb run --help` and `infonb --help`: target < 0.5 s (the command line imports torch only when a run starts);
  - `python -c "pass"`: the interpreter's own start-up, for scale.
The package imported is this checkout's (PYTHONPATH is set to the repository), whatever is installed.
"""
import argparse, os, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SCRIPT = Path(sys.prefix) / 'bin' / 'infonb'
CLI = [str(SCRIPT)] if SCRIPT.exists() else [PY, '-c', 'import sys; from infonb.cli import main; sys.exit(main())']

COMMANDS = {  # case -> (command line, what it is compared with, target ratio or seconds)
    'python -c pass': ([PY, '-c', 'pass'], None, None),
    'import torch': ([PY, '-c', 'import torch'], None, None),
    'import infonb': ([PY, '-c', 'import infonb'], 'import torch', ('ratio', 1.2)),
    'import infonb; infonb.InfoFlow': ([PY, '-c', 'import infonb; infonb.InfoFlow'], 'import torch', None),
    'infonb run --help': ([*CLI, 'run', '--help'], 'import torch', ('seconds', 0.5)),
    'infonb --help': ([*CLI, '--help'], 'import torch', ('seconds', 0.5)),
}


def wall(cmd: list, env: dict) -> float:
    "Seconds one command takes in a fresh process (it must succeed)."
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode: raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-500:]}")
    return dt


def measure(repeats: int = 5) -> dict:
    "case -> list of wall times, the commands interleaved so that they share the machine's state."
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'MPLBACKEND': 'Agg'}
    for cmd, _, _ in COMMANDS.values(): wall(cmd, env)  # warm-up: page cache, .pyc files
    times = {case: [] for case in COMMANDS}
    for _ in range(repeats):
        for case, (cmd, _, _) in COMMANDS.items():
            time.sleep(0.1)
            times[case].append(wall(cmd, env))
    return times


def run(quick: bool = False, repeats: int | None = None) -> list:
    "The rows: median seconds per command, the ratio to `import torch`, and whether each target is met."
    times = measure(repeats or (3 if quick else 5))
    med = {case: statistics.median(ts) for case, ts in times.items()}
    rows = []
    for case, (cmd, baseline, target) in COMMANDS.items():
        t, tb = med[case], med.get(baseline)
        row = dict(suite='bench_import', case=case, method='subprocess', t=t, repeats=len(times[case]),
                   spread=round(max(times[case]) - min(times[case]), 3), ratio=None)
        if tb is not None: row.update(baseline=baseline, t_baseline=tb, speedup=tb / t, ratio=round(t / tb, 3))
        if target is not None:
            kind, bound = target
            row['target'] = f'<= {bound}x {baseline}' if kind == 'ratio' else f'< {bound} s'
            row['met'] = bool(t <= bound * tb) if kind == 'ratio' else bool(t < bound)
        rows.append(row)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='3 repeats instead of 5')
    p.add_argument('--repeats', type=int, help='repeats per command (default 5)')
    a = p.parse_args(argv)
    rows = run(a.quick, a.repeats)
    print(f"{'command':34s} {'median':>9s} {'x import torch':>15s}  target")
    for r in rows:
        ratio = '-' if r['ratio'] is None else f"{r['ratio']:.2f}x"
        goal = '' if 'target' not in r else f"{r['target']}: {'met' if r['met'] else 'NOT MET'}"
        print(f"{r['case']:34s} {r['t'] * 1e3:7.0f} ms {ratio:>15s}  {goal}")


if __name__ == '__main__':
    main()
