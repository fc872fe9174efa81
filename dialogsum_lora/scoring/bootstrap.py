"""How sure a score is: bootstrap confidence intervals over dialogues, and the paired
comparison of two systems on the same dialogues.

A resample draws as many dialogues as there are, with replacement; a dialogue's
references stay together because the unit resampled is the dialogue's score
(already averaged over its references). Both systems of a paired comparison are
resampled with the same draws, so the interval is that of their difference on
the same dialogues, not of two independent means. Resamples are drawn from
`seed` with numpy's PCG64: the same inputs give the same bytes on every run.
"""

import numpy as np

CONFIDENCE = 0.95
_PERCENTILES = (100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2)  # 2.5, 97.5
DIGITS = 6  # as the headline scores


def resample_indices(dialogues: int, resamples: int, seed: int) -> np.ndarray:
    """`resamples` rows of `dialogues` indices drawn with replacement (shape resamples x dialogues)."""
    if dialogues < 1 or resamples < 1:
        raise ValueError(f"bootstrap needs at least one dialogue and one resample, got {dialogues} and {resamples}")
    return np.random.default_rng(seed).integers(0, dialogues, size=(resamples, dialogues))


def resampled_means(scores, indices: np.ndarray) -> np.ndarray:
    """The mean of `scores` (one per dialogue) in each resample."""
    return np.asarray(scores, dtype=np.float64)[indices].mean(axis=1)


def percentile_interval(means: np.ndarray) -> dict[str, float]:
    """The 95% percentile interval of resampled means."""
    low, high = np.percentile(means, _PERCENTILES)
    return {"low": round(float(low), DIGITS), "high": round(float(high), DIGITS)}


def interval(scores, indices: np.ndarray) -> dict[str, float]:
    """The 95% percentile interval of the mean of `scores` over the resamples `indices` draws."""
    return percentile_interval(resampled_means(scores, indices))


def intervals(per_type: dict[str, list[float]], resamples: int, seed: int) -> dict[str, dict[str, float]]:
    """A 95% interval for each score type's mean, every type over the same resamples."""
    indices = resample_indices(len(next(iter(per_type.values()))), resamples, seed)
    return {name: interval(scores, indices) for name, scores in per_type.items()}


def paired(candidate: list[float], other: list[float], indices: np.ndarray) -> dict:
    """A candidate system against another on the same dialogues (the candidate's score minus the
    other's, per dialogue).

    difference: the mean difference; low, high: its 95% interval; p_value: the
    one-sided bootstrap p-value of "the candidate is better", the share of
    resamples in which its mean is not above the other's; wins, ties, losses:
    dialogues on which the candidate scores above, equal to, below the other.
    """
    candidate, other = np.asarray(candidate, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if candidate.shape != other.shape:
        raise ValueError(f"a paired comparison needs the same dialogues: {candidate.size} scores against {other.size}")
    difference = candidate - other
    means = resampled_means(difference, indices)
    tie = np.isclose(candidate, other, rtol=0, atol=1e-12)
    return {
        "difference": round(float(difference.mean()), DIGITS),
        **percentile_interval(means),
        "p_value": round(float(np.mean(means <= 0)), DIGITS),
        "wins": int(np.sum((difference > 0) & ~tie)),
        "ties": int(np.sum(tie)),
        "losses": int(np.sum((difference < 0) & ~tie)),
    }


def compare(candidate: dict[str, list[float]], other: dict[str, list[float]], resamples: int,
            seed: int) -> dict[str, dict]:
    """paired() for each score type, every type over the same resamples."""
    indices = resample_indices(len(next(iter(candidate.values()))), resamples, seed)
    return {name: paired(candidate[name], other[name], indices) for name in candidate}


# Across training runs: a score per (seed, dialogue), for runs that differ only in their seed.
# A two-level bootstrap resamples the seeds, then the dialogues, both with replacement, and takes
# the mean over the drawn (seed, dialogue) cells: its interval holds the variance of training
# (another seed trains another adapter) and of the test sample (other dialogues) together, where
# the bootstrap above holds the second alone. With a handful of seeds the seed draw is coarse, and
# the interval wide: that is what a few seeds can say.


def two_level_indices(seeds: int, dialogues: int, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per resample, `seeds` seed indices and `dialogues` dialogue indices drawn with replacement
    (shapes resamples x seeds and resamples x dialogues)."""
    if seeds < 1 or dialogues < 1 or resamples < 1:
        raise ValueError(f"a bootstrap needs a seed, a dialogue and a resample, got {seeds}, {dialogues} and {resamples}")
    generator = np.random.default_rng(seed)
    return generator.integers(0, seeds, size=(resamples, seeds)), generator.integers(0, dialogues, size=(resamples, dialogues))


def two_level_means(scores, indices: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The mean of `scores` (seeds x dialogues) over the cells each resample draws."""
    seed_draws, dialogue_draws = indices
    scores = np.asarray(scores, dtype=np.float64)
    # The mean over drawn dialogues for every seed, then over the drawn seeds (an equal number of
    # dialogues per seed, so this is the mean over the drawn cells).
    per_seed = np.stack([scores[:, draws].mean(axis=1) for draws in dialogue_draws])  # resamples x seeds
    return np.take_along_axis(per_seed, seed_draws, axis=1).mean(axis=1)


def across_seeds(per_type: dict[str, list[list[float]]], resamples: int, seed: int) -> dict[str, dict]:
    """For each score type (its scores: seeds x dialogues): the mean and standard deviation over
    seeds of each seed's mean, and the two-level bootstrap's 95% interval of the mean."""
    first = np.asarray(next(iter(per_type.values())))
    indices = two_level_indices(first.shape[0], first.shape[1], resamples, seed)
    found = {}
    for name, scores in per_type.items():
        seed_means = np.asarray(scores, dtype=np.float64).mean(axis=1)
        found[name] = {
            "mean": round(float(seed_means.mean()), DIGITS),
            "std": round(float(seed_means.std(ddof=1)), DIGITS) if seed_means.size > 1 else None,
            **percentile_interval(two_level_means(scores, indices)),
        }
    return found


def paired_across_seeds(candidate: list[list[float]], other: list[list[float]], resamples: int, seed: int) -> dict:
    """Two groups of runs on the same seeds and dialogues (seeds x dialogues each, in the same
    order): the mean difference, candidate minus other, its two-level 95% interval, and the
    one-sided p-value of "the candidate is better" (the share of resamples whose mean difference
    is not above 0)."""
    candidate, other = np.asarray(candidate, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if candidate.shape != other.shape:
        raise ValueError(f"a paired comparison needs the same seeds and dialogues: {candidate.shape} against {other.shape}")
    difference = candidate - other
    means = two_level_means(difference, two_level_indices(*difference.shape, resamples, seed))
    return {
        "difference": round(float(difference.mean()), DIGITS),
        **percentile_interval(means),
        "p_value": round(float(np.mean(means <= 0)), DIGITS),
    }
