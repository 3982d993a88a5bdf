import os
os.environ.setdefault("MPLBACKEND", "Agg")

# Hypothesis: under CI (CI set) the examples are derandomized, no example database is kept and the number of
# examples is fixed, so CI passes or fails the same way every run; local runs keep exploring new examples.
from hypothesis import settings, HealthCheck
settings.register_profile('ci', derandomize=True, database=None, max_examples=25, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci' if os.environ.get('CI') else 'dev'))

import pytest

@pytest.fixture(autouse=True)
def _seeded():
    "Every test starts from the same global random state (tests that draw without a generator are deterministic)."
    import random
    import numpy as np
    import torch
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
    yield

import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))  # tests import `tolerances`
