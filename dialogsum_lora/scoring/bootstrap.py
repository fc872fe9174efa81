"""How sure a score is: bootstrap intervals over dialogues, the paired comparison of two systems on the same
dialogues, and intervals over training seeds and dialogues.

The unit resampled is a dialogue's score (averaged over its references, which so stay together). Both systems of
a paired comparison share the draws, so the interval is that of their difference. Draws come from `seed` (numpy's
PCG64): the same bytes on every run.
"""

import numpy as np

CONFIDENCE = 0.95
_PERCENTILES = (100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2)  # 2.5, 97.5
DIGITS = 6  # as the headline scores


def resample_indices(dialogues: int, resamples: int, seed: int) -> np.ndarray:
    """`resamples` rows of `dialogues` indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, dialogues, size=(resamples, dialogues))


def _interval(scores, indices: np.ndarray) -> dict[str, float]:
    """The 95% percentile interval of the mean of `scores` over the resamples `indices` draws."""
    low, high = np.percentile(np.asarray(scores, dtype=np.float64)[indices].mean(axis=1), _PERCENTILES)
    return {"low": round(float(low), DIGITS), "high": round(float(high), DIGITS)}


def intervals(per_type: dict[str, list[float]], resamples: int, seed: int) -> dict[str, dict[str, float]]:
    """A 95% interval for each score type's mean, every type over the same resamples."""
    indices = resample_indices(len(next(iter(per_type.values()))), resamples, seed)
    return {name: _interval(scores, indices) for name, scores in per_type.items()}


def paired(candidate: list[float], other: list[float], indices: np.ndarray) -> dict:
    """Candidate against other on the same dialogues: the mean difference, its 95% interval, the one-sided p-value
    of "the candidate is better" (the share of resamples whose mean difference is not above 0), wins, ties, losses."""
    candidate, other = np.asarray(candidate, dtype=np.float64), np.asarray(other, dtype=np.float64)
    difference = candidate - other
    tie = np.isclose(candidate, other, rtol=0, atol=1e-12)
    return {
        "difference": round(float(difference.mean()), DIGITS),
        **_interval(difference, indices),
        "p_value": round(float(np.mean(difference[indices].mean(axis=1) <= 0)), DIGITS),
        "wins": int(np.sum((difference > 0) & ~tie)),
        "ties": int(np.sum(tie)),
        "losses": int(np.sum((difference < 0) & ~tie)),
    }


def compare(candidate: dict[str, list[float]], other: dict[str, list[float]], resamples: int, seed: int) -> dict:
    """paired() for each score type, every type over the same resamples."""
    indices = resample_indices(len(next(iter(candidate.values()))), resamples, seed)
    return {name: paired(candidate[name], other[name], indices) for name in candidate}


# Across training runs that differ only in their seed, the mean varies with training and with the test
# sample: its variance is the spread of the seeds' means over S seeds plus that of the dialogues' means over
# N dialogues (conservative), with Student's t on S - 1 degrees of freedom. Not Welch-Satterthwaite's (with
# 2 seeds it called 4% of no-difference comparisons better at 2.5%), nor a two-level bootstrap (2-5 seeds
# never show a wider spread than theirs: 10-20%); test_bootstrap.py checks this method's rate.


def _over_seeds(cells) -> tuple[dict, float]:
    """Of `cells` (seeds x dialogues, two or more of each): the mean, the sd of the seeds' means, the mean's 95% t
    interval from both spreads; and the one-sided p-value of "the mean is above 0"."""
    from scipy.stats import t

    cells = np.asarray(cells, dtype=np.float64)
    seeds, dialogues = cells.shape
    seed_means = cells.mean(axis=1)
    error = float(seed_means.var(ddof=1) / seeds + cells.mean(axis=0).var(ddof=1) / dialogues) ** 0.5
    mean, half = float(cells.mean()), float(t.ppf((1 + CONFIDENCE) / 2, float(seeds - 1))) * error
    # Every cell alike: an interval of zero width, which tells nothing, and no t statistic.
    p_value = round(float(t.sf(mean / error, seeds - 1.0)), DIGITS) if error else float(mean <= 0)
    found = {"mean": round(mean, DIGITS), "std": round(float(seed_means.std(ddof=1)), DIGITS)}
    return {**found, "low": round(mean - half, DIGITS), "high": round(mean + half, DIGITS)}, p_value


def across_seeds(per_type: dict[str, list[list[float]]]) -> dict[str, dict]:
    """For each score type (its scores: seeds x dialogues): _over_seeds' mean, std and 95% interval."""
    return {name: _over_seeds(cells)[0] for name, cells in per_type.items()}


def paired_across_seeds(candidate: list[list[float]], other: list[list[float]]) -> dict:
    """Two groups of runs on the same seeds and dialogues (seeds x dialogues, in the same order): the mean difference,
    its 95% interval and the one-sided p-value of "the candidate is better" (Student's t)."""
    found, p_value = _over_seeds(np.subtract(candidate, other))
    return {"difference": found["mean"], "low": found["low"], "high": found["high"], "p_value": p_value}
