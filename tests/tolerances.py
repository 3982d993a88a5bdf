"""The tolerances of the test suite, each with its reason. Import them; never write a bare round number.

Two code paths that must agree exactly are compared on the same path (tolerance 0). Otherwise a tolerance
is the resolution of the computation being checked:
- an eigenvalue of a symmetric n x n matrix from LAPACK/torch `eigvalsh` is accurate to about n·eps·λ_max
  (backward stability); at unit trace λ_max <= 1, so each eigenvalue may move by tau = n·eps;
- an entropy inherits that through its slope in each eigenvalue (`infonb.renyi.entropy_resolution`, derived
  in nbs/02_renyi.ipynb), which is largest for alpha < 1, where eigenvalues near the noise floor count with
  weight λ^alpha;
- sums of m float64 terms of size s agree to about m·eps·s (`sum_resolution`).
"""
import math
from infonb.renyi import entropy_resolution  # noqa: F401  (its derivation: nbs/02_renyi.ipynb)

EPS = 2.0 ** -52  # float64 machine epsilon
LN2 = math.log(2)

def eig_resolution(n:int)->float:
    "Absolute accuracy of the eigenvalues of an n x n unit-trace symmetric matrix (n eps lambda_max)."
    return n * EPS

def mi_resolution(n:int, alpha:float=1.01, terms:int=3)->float:
    "Bits for a sum of `terms` entropies of n x n matrices (a mutual information: 3; a conditional MI: 4)."
    return terms * entropy_resolution(n, alpha)

def sum_resolution(m:int, scale:float=1.0)->float:
    "Absolute accuracy of a float64 sum of m terms of size `scale` (m eps scale)."
    return m * EPS * scale

def pid_resolution(n:int, alpha:float=1.01)->float:
    "Bits for a PID term: a signed sum of at most three MIs (I(T1;Y), I(T2;Y), I(T1,T2;Y)): 9 entropies."
    return mi_resolution(n, alpha, terms=9)
