"""The bootstrap intervals and the paired comparison agree with a straightforward bootstrap
written here, loop by loop, on the sample data and on the published DialogSum predictions."""

import functools
import random
from statistics import fmean, stdev

import pytest

from dialogsum_lora.scoring.bootstrap import compare, intervals, paired, resample_indices
from dialogsum_lora.data import load_source
from dialogsum_lora.scoring.rouge import ROUGE_TYPES, score_corpus

from conftest import SAMPLE_DIR, SHARED_DATA

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
    pytest.param(published_systems, id="published-predictions",
                 marks=pytest.mark.skipif(not PUBLISHED.exists(), reason="../shared/data is not beside the repository")),
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
    with pytest.raises(ValueError, match="the same dialogues"):
        paired([0.1, 0.2], [0.1], resample_indices(2, 5, seed=0))
    with pytest.raises(ValueError, match="at least one dialogue"):
        resample_indices(0, 5, seed=0)


def plain_two_level(cells: list[list[float]], seed_draws, dialogue_draws) -> tuple[float, float]:
    """The two-level bootstrap written loop by loop: per resample, the mean over the drawn seeds of
    each drawn seed's mean over the drawn dialogues; the 95% percentile interval of those."""
    means = []
    for seeds, dialogues in zip(seed_draws, dialogue_draws):
        means.append(sum(sum(cells[s][d] for d in dialogues) / len(dialogues) for s in seeds) / len(seeds))
    means.sort()
    return percentile(means, 0.025), percentile(means, 0.975)


def test_the_two_level_bootstrap_is_a_plain_one_over_seeds_then_dialogues():
    from dialogsum_lora.scoring.bootstrap import across_seeds, paired_across_seeds, two_level_indices

    draw = random.Random(3)
    cells = [[draw.random() * 0.2 + 0.1 * seed for _ in range(40)] for seed in range(3)]  # 3 seeds x 40 dialogues
    other = [[value - 0.05 + draw.random() * 0.01 for value in row] for row in cells]
    found = across_seeds({"rouge1": cells}, 300, seed=11)["rouge1"]
    seed_draws, dialogue_draws = two_level_indices(3, 40, 300, seed=11)
    low, high = plain_two_level(cells, seed_draws.tolist(), dialogue_draws.tolist())
    assert (found["low"], found["high"]) == pytest.approx((low, high), abs=1e-6)
    seed_means = [fmean(row) for row in cells]
    assert found["mean"] == pytest.approx(fmean(seed_means), abs=1e-6)
    assert found["std"] == pytest.approx(stdev(seed_means), abs=1e-6)  # over seeds, n - 1
    # The seeds' spread widens the interval beyond the dialogues' alone (seed 0's bootstrap).
    alone = plain_bootstrap(cells[0], dialogue_draws.tolist())
    assert high - low > 2 * (alone[1] - alone[0])

    compared = paired_across_seeds(cells, other, 300, seed=11)
    differences = [[a - b for a, b in zip(row, other_row)] for row, other_row in zip(cells, other)]
    assert compared["difference"] == pytest.approx(fmean(v for row in differences for v in row), abs=1e-6)
    assert (compared["low"], compared["high"]) == pytest.approx(
        plain_two_level(differences, seed_draws.tolist(), dialogue_draws.tolist()), abs=1e-6)
    assert compared["p_value"] == 0.0  # every cell better by 0.04 or more


def test_with_one_training_run_repeated_the_two_level_interval_is_the_dialogue_bootstrap():
    from dialogsum_lora.scoring.bootstrap import across_seeds, two_level_indices

    draw = random.Random(5)
    run = [draw.random() for _ in range(30)]
    found = across_seeds({"rouge1": [run, run, run]}, 200, seed=2)["rouge1"]
    _, dialogue_draws = two_level_indices(3, 30, 200, seed=2)
    assert (found["low"], found["high"]) == pytest.approx(plain_bootstrap(run, dialogue_draws.tolist()), abs=1e-6)
    assert found["std"] == 0
