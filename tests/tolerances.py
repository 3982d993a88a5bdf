"""The tolerances of the test suite, each with its reason. Import them; never write a bare round number.

Two code paths that must agree exactly are compared on the same path (tolerance 0). Otherwise a tolerance
is the resolution of the computation being checked:
- an eigenvalue of a symmetric n x n matrix from LAPACK/torch `eigvalsh` is accurate to about n·eps·λ_max
  (backward stability); at unit trace λ_max <= 1, so each eigenvalue may move by tau = n·eps;
- an entropy inherits that through its slope in each eigenvalue (`entropy_resolution`), which is largest
  for alpha < 1, where eigenvalues near the noise floor count with weight λ^alpha;
- sums of m float64 terms of size s agree to about m·eps·s (`sum_resolution`).
"""
import math

EPS = 2.0 ** -52  # float64 machine epsilon
LN2 = math.log(2)

def eig_resolution(n:int)->float:
    "Absolute accuracy of the eigenvalues of an n x n unit-trace symmetric matrix (n eps lambda_max)."
    return n * EPS

def entropy_resolution(n:int, alpha:float=1.01)->float:
    "Bits by which two correct eigensolver paths may differ for one n x n unit-trace Gram matrix."
    tau = eig_resolution(n)
    if alpha < 1:  # each of n eigenvalues near the noise floor tau changes sum(lambda^alpha) by about tau^alpha
        return n * (1 + alpha) * tau ** alpha / ((1 - alpha) * LN2)
    # alpha >= 1: n eigenvalues move by tau each; the slope of the entropy in one eigenvalue is at most the
    # Shannon slope |log2 tau| + 2 (at alpha = 1) or alpha * n / ((alpha - 1) ln 2) (alpha > 1, lambda_max >= 1/n)
    slope = abs(math.log2(tau)) + 2 if alpha == 1 else min(abs(math.log2(tau)) + 2, alpha * n / ((alpha - 1) * LN2))
    return n * tau * max(1.0, alpha) * slope

def mi_resolution(n:int, alpha:float=1.01, terms:int=3)->float:
    "Bits for a sum of `terms` entropies of n x n matrices (a mutual information: 3; a conditional MI: 4)."
    return terms * entropy_resolution(n, alpha)

def sum_resolution(m:int, scale:float=1.0)->float:
    "Absolute accuracy of a float64 sum of m terms of size `scale` (m eps scale)."
    return m * EPS * scale
