"""The one timer every benchmark uses."""
import time

SETTLE = 0.3  # seconds of idle before each timed call


def timed(fn, repeats=1, settle=SETTLE):
    """Best wall time of `repeats` calls of `fn`, and the last result.

    Each call starts after `settle` seconds of idle: the threads of the previous computation's runtime (OpenBLAS behind
    NumPy, OpenMP behind torch) spin for a while after their work ends and would otherwise take cores from whichever
    side is timed next. Both sides of a comparison get the same treatment."""
    best, out = float('inf'), None
    for _ in range(repeats):
        if settle: time.sleep(settle)
        t = time.perf_counter(); out = fn(); best = min(best, time.perf_counter() - t)
    return best, out
