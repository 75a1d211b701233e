"""How far one distribution is from another, and how far chance alone would put it.

The Jensen-Shannon distance (the square root of the JS divergence, base 2: 0 for identical
distributions, 1 for disjoint ones) between two samples of a discrete statistic. Both are
smoothed over their shared support (every value either sample takes gets ``SMOOTHING`` extra
counts), so a value one side never shows does not make the distance 1 on its own. Shares in
[0, 1] are first binned into tenths.

The noise floor says whether a distance is real: the distance between the reference and samples
of the run's size drawn from the reference itself (with replacement). A run at the floor is as
close as a sample of the reference would be. Written out (a few lines over counts) rather than
taken from SciPy, which would be a large dependency for one formula.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

SMOOTHING = 0.5
BOOTSTRAP_SAMPLES = 200
SHARE_BINS = 10


def share_bin(value: float) -> int:
    """The tenth a share falls in: 0.0-0.1 -> 0, ..., 0.9-1.0 -> 9."""
    return min(int(value * SHARE_BINS), SHARE_BINS - 1)


def js_distance(a: Sequence[int], b: Sequence[int], smoothing: float = SMOOTHING) -> float:
    if not a or not b:
        return float("nan")
    support = sorted(set(a) | set(b))
    count_a, count_b = Counter(a), Counter(b)
    total_a = len(a) + smoothing * len(support)
    total_b = len(b) + smoothing * len(support)
    divergence = 0.0
    for value in support:
        p = (count_a[value] + smoothing) / total_a
        q = (count_b[value] + smoothing) / total_b
        m = (p + q) / 2
        divergence += 0.5 * p * math.log2(p / m) + 0.5 * q * math.log2(q / m)
    return math.sqrt(max(divergence, 0.0))


def noise_floor(reference: Sequence[int], size: int, seed: int = 0) -> dict[str, float]:
    """Mean and 95th percentile of the distance from samples of ``size`` drawn from ``reference``."""
    if not reference or size < 1:
        return {"mean": float("nan"), "p95": float("nan")}
    rng = random.Random(seed)
    distances = sorted(js_distance(rng.choices(reference, k=size), reference) for _ in range(BOOTSTRAP_SAMPLES))
    return {"mean": sum(distances) / len(distances), "p95": distances[int(0.95 * (len(distances) - 1))]}
