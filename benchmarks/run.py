"""infonb's benchmark suite: one command, one table, every row measured side by side in the same run.

    python benchmarks/run.py [--quick] [--out FILE]

Runs benchmarks/bench_entropy.py (exact infonb against the authors' NumPy pipeline; large-n approximations against
exact eigvalsh) and, when present, bench_flow.py, bench_pid.py and bench_import.py (import and --help times in fresh
interpreters; each suite exposes `run(quick=False) -> list of rows`),
prints one table and writes it to benchmarks/results/<machine>.json (machine: e.g. 'cpu-2core' or the GPU's name).

A row is a plain dict. The table shows these keys (others are listed under 'note'):
  suite, case, n, method, baseline   what was measured against what
  t, t_baseline                      seconds (best of the repeats)
  speedup                            t_baseline / t
  error, error_kind                  'abs' (bits) or 'rel' (fraction) difference of the values
  target, met                        the goal and whether this row meets it (None: no goal)
"""
import argparse, datetime, importlib, json, os, platform, sys, time, traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parent))

COLUMNS = ('suite', 'case', 'n', 'method', 'baseline', 't', 't_baseline', 'speedup', 'error', 'error_kind', 'target', 'met')

def machine_name()->str:
    "'cpu-<cores>core', or the GPU's name when torch sees one."
    if torch.cuda.is_available():
        return 'cuda-' + torch.cuda.get_device_name(0).lower().replace('nvidia ', '').replace(' ', '-')
    return f'cpu-{os.cpu_count()}core'

def _fmt_time(t): return '-' if t is None else (f'{t * 1e3:.1f} ms' if t < 1 else f'{t:.2f} s')

def _fmt_error(r):
    e = r.get('error')
    if e is None: return '-'
    if r.get('error_kind') == 'rel': return f'{100 * e:+.2f}%'
    return f'{e:.1e}' if isinstance(e, (int, float)) else str(e)

def format_table(rows)->str:
    "The rows as an aligned text table."
    head = ['suite', 'case', 'n', 'method', 'vs', 't', 't (baseline)', 'speed-up', 'error', 'target', 'ok']
    lines = []
    for r in rows:
        met = r.get('met')
        extra = {k: v for k, v in r.items() if k not in COLUMNS + ('value', 'baseline_value', 'note') and v is not None}
        note = '; '.join(x for x in [r.get('note')] + [f'{k}={v}' for k, v in extra.items()] if x)
        lines.append([str(r.get('suite', '-')), str(r.get('case', r.get('name', '-'))), str(r.get('n', '-')),
                      str(r.get('method', '-')), str(r.get('baseline', '-')), _fmt_time(r.get('t')),
                      _fmt_time(r.get('t_baseline')), '-' if r.get('speedup') is None else f"{r['speedup']:.1f}x",
                      _fmt_error(r), str(r.get('target', '-')), '-' if met is None else ('yes' if met else 'NO')]
                     + ([note] if note else []))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: '  '.join(c.ljust(w) for c, w in zip(cells, widths)) + ('  ' + cells[-1] if len(cells) > len(head) else '')
    return '\n'.join([fmt(head), '  '.join('-' * w for w in widths)] + [fmt(l) for l in lines])

def _cpu_model()->str:
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()

def suite_main(run)->None:
    "A suite file's own `__main__`: run(quick='--quick' in argv), its table, the time and the load."
    quick, load, t = '--quick' in sys.argv, os.getloadavg()[0], time.time()
    print(format_table(run(quick=quick)))
    print(f'{time.time() - t:.0f} s; torch threads {torch.get_num_threads()}; load average {load:.2f} '
          f'before, {os.getloadavg()[0]:.2f} after')

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='smaller sizes, fewer rows (a minute or two)')
    p.add_argument('--out', help='where to write the JSON (default benchmarks/results/<machine>.json)')
    args = p.parse_args(argv)
    started, load_before = time.time(), os.getloadavg()
    rows, notes = [], {}
    for name in ('bench_entropy', 'bench_flow', 'bench_pid', 'bench_import', 'bench_dependence', 'bench_objective',
                 'bench_distributed'):
        try: mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name: notes[name] = 'not present'; continue
            raise
        t = time.time()
        try: got = list(mod.run(quick=args.quick))
        except Exception:
            notes[name] = 'failed: ' + traceback.format_exc(limit=3)
            print(f'{name} failed:\n{traceback.format_exc()}', file=sys.stderr); continue
        for r in got: r.setdefault('suite', name)
        rows += got
        notes[name] = f'{len(got)} rows in {time.time() - t:.0f} s'
        print(f'{name}: {notes[name]}', file=sys.stderr, flush=True)
    try:
        from bench_entropy import lenet5_features
        features = lenet5_features()[1]
    except Exception as e: features = f'unavailable: {e}'
    print(format_table(rows))
    result = dict(machine=machine_name(), cpu=_cpu_model(), cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
                  gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                  python=platform.python_version(), torch=torch.__version__, numpy=np.__version__,
                  date=datetime.datetime.now().isoformat(timespec='seconds'), quick=args.quick,
                  wall_s=round(time.time() - started, 1), load_before=load_before, load_after=os.getloadavg(),
                  features=features, modules=notes, rows=rows)
    out = Path(args.out) if args.out else HERE / 'results' / f'{machine_name()}{"-quick" if args.quick else ""}.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f'\nwritten to {out} (load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f})')

if __name__ == '__main__':
    main()
