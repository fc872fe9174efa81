"""The bootstrap intervals and the paired comparison agree with a straightforward bootstrap
written here, loop by loop, on the sample data and on the published DialogSum predictions."""

import functools
import random
from statistics import fmean, stdev

import pytest
from conftest import SAMPLE_DIR, SHARED_DATA

from dialogsum_lora.data import load_source
from dialogsum_lora.scoring.bootstrap import compare, intervals, paired, resample_indices
from dialogsum_lora.scoring.rouge import ROUGE_TYPES, score_corpus

PUBLISHED = SHARED_DATA / "dlai-lab2" / "dialogue-summary-training-results.csv"


def percentile(sorted_values: list[float], share: float) -> float:
    """The linearly interpolated percentile of an ascending list (numpy's default method)."""
    position = share * (len(sorted_values) - 1)
    below = int(position)
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * (position - below)


def plain_bootstrap(scores: list[float], draws) -> tuple[float, float]:
    """The 95% percentile interval of the mean over resamples, each resample a list of indices."""
    means = sorted(sum(scores[i] for i in draw) / len(draw) for draw in draws)
    return percentile(means, 0.025), percentile(means, 0.975)


def random_draws(dialogues: int, resamples: int, seed: int) -> list[list[int]]:
    generator = random.Random(seed)
    return [[generator.randrange(dialogues) for _ in range(dialogues)] for _ in range(resamples)]


def per_type(predictions: list[str], references: list[list[str]]) -> dict[str, list[float]]:
    _, dialogues = score_corpus(predictions, references)
    return {name: [d["mean"][name] for d in dialogues] for name in ROUGE_TYPES}


@functools.cache
def sample_systems() -> tuple[dict, dict]:
    """Two lead baselines on the sample test split: each dialogue's first turn, and its last."""
    test = load_source(str(SAMPLE_DIR), None)[0]["test"]
    references = [row["references"] for row in test]
    first = [row["dialogue"].splitlines()[0] for row in test]
    last = [row["dialogue"].splitlines()[-1] for row in test]
    return per_type(first, references), per_type(last, references)


@functools.cache
def published_systems() -> tuple[dict, dict]:
    """flan-t5-base with the LoRA adapter and zero-shot, as published (500 dialogues x 3 references)."""
    from benchmarks.rouge import read_table

    table = read_table(PUBLISHED)
    return per_type(*table["peft_model_summaries"]), per_type(*table["original_model_summaries"])


SYSTEMS = [
    pytest.param(sample_systems, id="sample-data"),
    pytest.param(
        published_systems,
        id="published-predictions",
        marks=[
            pytest.mark.skipif(not PUBLISHED.exists(), reason="../shared/data is not beside the repository"),
            pytest.mark.slow,  # 1,500 summaries' bootstraps: seconds each
        ],
    ),
]


@pytest.mark.parametrize("systems", SYSTEMS)
def test_intervals_are_those_of_a_plain_bootstrap_over_the_same_draws(systems):
    a, _ = systems()
    dialogues = len(a["rouge1"])
    ours = intervals(a, 1000, seed=42)
    draws = resample_indices(dialogues, 1000, seed=42).tolist()
    for name in ROUGE_TYPES:
        low, high = plain_bootstrap(a[name], draws)
        assert ours[name]["low"] == pytest.approx(low, abs=1e-6) and ours[name]["high"] == pytest.approx(high, abs=1e-6)
        assert ours[name]["low"] <= fmean(a[name]) <= ours[name]["high"]


@pytest.mark.parametrize("systems", SYSTEMS)
def test_intervals_agree_with_an_independent_bootstrap_and_the_normal_approximation(systems):
    a, _ = systems()
    dialogues = len(a["rouge1"])
    ours = intervals(a, 1000, seed=42)
    draws = random_draws(dialogues, 1000, seed=7)  # other draws from another generator
    for name in ("rouge1", "rougeL"):
        width = ours[name]["high"] - ours[name]["low"]
        low, high = plain_bootstrap(a[name], draws)
        assert abs(ours[name]["low"] - low) < 0.2 * width and abs(ours[name]["high"] - high) < 0.2 * width
        half = 1.96 * stdev(a[name]) / dialogues**0.5
        assert width == pytest.approx(2 * half, rel=0.3)


@pytest.mark.parametrize("systems", SYSTEMS)
def test_the_paired_comparison_is_that_of_a_plain_paired_bootstrap(systems):
    a, b = systems()
    dialogues = len(a["rouge1"])
    ours = compare(a, b, 1000, seed=42)
    draws = resample_indices(dialogues, 1000, seed=42).tolist()
    for name in ROUGE_TYPES:
        differences = [x - y for x, y in zip(a[name], b[name])]
        low, high = plain_bootstrap(differences, draws)
        not_better = sum(sum(differences[i] for i in draw) <= 0 for draw in draws) / len(draws)
        result = ours[name]
        assert result["difference"] == pytest.approx(fmean(differences), abs=1e-6)
        assert result["low"] == pytest.approx(low, abs=1e-6) and result["high"] == pytest.approx(high, abs=1e-6)
        assert result["p_value"] == pytest.approx(not_better, abs=1e-9)
        assert result["wins"] == sum(x > y for x, y in zip(a[name], b[name]))
        assert result["losses"] == sum(x < y for x, y in zip(a[name], b[name]))
        assert result["wins"] + result["ties"] + result["losses"] == dialogues


@pytest.mark.skipif(not PUBLISHED.exists(), reason="../shared/data is not beside the repository")
def test_the_published_lora_beats_zero_shot_far_beyond_noise():
    lora, zero_shot = published_systems()
    result = compare(lora, zero_shot, 1000, seed=42)["rouge1"]
    assert result["difference"] == pytest.approx(0.408132 - 0.233278, abs=1e-5)  # the published means
    assert result["low"] > 0.15 and result["p_value"] == 0 and result["wins"] > 4 * result["losses"]


def test_identical_systems_tie_everywhere_and_are_not_better():
    scores = [0.1, 0.5, 0.3]
    result = paired(scores, scores, resample_indices(3, 200, seed=1))
    assert result == {"difference": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0, "wins": 0, "ties": 3, "losses": 0}


def test_resamples_depend_on_the_seed_only():
    assert (resample_indices(50, 20, seed=3) == resample_indices(50, 20, seed=3)).all()
    assert not (resample_indices(50, 20, seed=3) == resample_indices(50, 20, seed=4)).all()


def t_interval_by_hand(cells: list[list[float]]) -> tuple[float, float, float]:
    """The mean of cells (seeds x dialogues) and its 95% interval, written out: the variance of the
    mean from the spread of the seeds' means and of the dialogues' means, Student's t on the seeds'
    degrees of freedom."""
    from scipy.stats import t

    seeds, dialogues = len(cells), len(cells[0])
    seed_means = [fmean(row) for row in cells]
    dialogue_means = [fmean(row[d] for row in cells) for d in range(dialogues)]
    a, b = stdev(seed_means) ** 2 / seeds, stdev(dialogue_means) ** 2 / dialogues
    half = t.ppf(0.975, seeds - 1) * (a + b) ** 0.5
    mean = fmean(v for row in cells for v in row)
    return mean, mean - half, mean + half


def test_the_interval_over_seeds_and_dialogues_is_students_t_on_both_spreads():
    from dialogsum_lora.scoring.bootstrap import across_seeds, paired_across_seeds

    draw = random.Random(3)
    cells = [[draw.random() * 0.2 + 0.1 * seed for _ in range(40)] for seed in range(3)]  # 3 seeds x 40 dialogues
    other = [[value - 0.05 + draw.random() * 0.01 for value in row] for row in cells]
    found = across_seeds({"rouge1": cells})["rouge1"]
    mean, low, high = t_interval_by_hand(cells)
    assert (found["mean"], found["low"], found["high"]) == pytest.approx((mean, low, high), abs=1e-6)
    assert found["std"] == pytest.approx(stdev(fmean(row) for row in cells), abs=1e-6)  # over seeds, n - 1
    # The seeds' spread widens the interval far beyond one run's dialogue bootstrap.
    alone = intervals({"rouge1": cells[0]}, 1000, seed=1)["rouge1"]
    assert high - low > 5 * (alone["high"] - alone["low"])

    compared = paired_across_seeds(cells, other)
    differences = [[a - b for a, b in zip(row, other_row)] for row, other_row in zip(cells, other)]
    mean, low, high = t_interval_by_hand(differences)
    assert (compared["difference"], compared["low"], compared["high"]) == pytest.approx((mean, low, high), abs=1e-6)
    assert compared["p_value"] < 0.001  # every cell better by 0.04 or more


@pytest.mark.slow  # a simulation of many experiments
def test_on_no_true_difference_few_seeds_are_called_better_at_most_as_often_as_they_should():
    # 2,000 simulated comparisons of two configs that differ in nothing but noise: each seed's run
    # shifts all its dialogues (training variance), each dialogue is harder or easier for both.
    import numpy as np

    from dialogsum_lora.scoring.bootstrap import paired_across_seeds

    generator = np.random.default_rng(0)
    for seeds in (2, 3, 5):
        better = 0
        for _ in range(2000):
            dialogue = generator.normal(0, 0.1, size=60)
            runs = [
                generator.normal(0, 0.01, size=(seeds, 1)) + dialogue + generator.normal(0, 0.05, size=(seeds, 60))
                for _ in range(2)
            ]
            better += paired_across_seeds(runs[0].tolist(), runs[1].tolist())["low"] > 0
        assert better / 2000 <= 0.035, (seeds, better)  # one-sided at 2.5%, plus the noise of 2,000 draws


def test_identical_seeds_give_an_interval_of_zero_width_that_tells_nothing():
    from dialogsum_lora.scoring.bootstrap import across_seeds, paired_across_seeds

    run = [0.1, 0.2, 0.3]
    assert across_seeds({"rouge1": [run, run]})["rouge1"]["std"] == 0
    same = paired_across_seeds([run, run], [run, run])
    assert same["low"] == same["high"] == same["difference"] == 0
