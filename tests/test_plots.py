"""Every plot is readable at a paper's size: as wide as a paper's text at most, no text under
8 points there, no text outside the figure, long labels shortened or wrapped; it says what it
leaves out; and it is the same bytes when drawn again."""

import matplotlib.text
import pytest
from test_experiments import ROUGE, shown

from dialogsum_lora.commands.experiments import changed_params, experiment_rows, sort_rows
from dialogsum_lora.results import plots

LONG = "a topic whose name goes on and on, far longer than any label can be at a paper's size"


def scores(value: float, intervals: bool = True) -> dict:
    metrics = {name: value - 0.05 * number for number, name in enumerate(ROUGE)} | {"num_dialogues": 500}
    if intervals:
        metrics["ci95"] = {name: {"low": metrics[name] - 0.01, "high": metrics[name] + 0.012} for name in ROUGE}
    return metrics


def many_experiments(count: int) -> list[dict]:
    """`count` experiments and the workspace, with long names and four changed params."""
    modules = ["q", "k", "v", "o", "wi_0", "wi_1", "wo"]
    rows = sort_rows(
        experiment_rows(
            shown(
                [
                    (
                        f"experiment-with-a-long-generated-name-{number}",
                        "success",
                        {
                            "lora": {"r": 2 ** (number % 6), "target_modules": modules[: 2 + number % 5]},
                            "train": {"learning_rate": 0.0003 * (1 + number)},
                            "seed": number,
                        },
                        0.35 + 0.003 * number,
                    )
                    for number in range(count)
                ]
            )
        )
    )
    # As dialogsum-experiments draws them: each run's intervals (its scores.json's) beside its scores.
    found = [
        {name: {"low": row["metrics"][name] - 0.01, "high": row["metrics"][name] + 0.012} for name in ROUGE}
        for row in rows
    ]
    return [{**row, "metrics": {**row["metrics"], "ci95": intervals}} for row, intervals in zip(rows, found)]


def draw_every_plot(directory) -> dict:
    """Each plot of plots.py on small data, the way its caller draws it: {file name: PNG path}."""
    topics = [
        {
            "topic": f"{LONG} {number}" if number % 4 == 0 else f"topic ${number}",
            "dialogues": 30 - number,
            "baseline": scores(0.2),
            "finetuned": scores(0.3 + number / 100),
        }
        for number in range(25)
    ]
    references = [[" ".join(["word"] * (10 + number % 20))] * 2 for number in range(40)]
    predictions = {
        system: [" ".join(["word"] * (5 + (number * factor) % 60)) for number in range(40)]
        for system, factor in (("baseline", 3), ("finetuned", 1))
    }
    cut = {"baseline": [number % 7 == 0 for number in range(40)], "finetuned": [False] * 40}
    curve = ([4 * step for step in range(1, 40)], [2.0 / step for step in range(1, 40)])
    rows = many_experiments(18)
    means = {(r, size): 0.3 + r / 1000 + size / 1e5 for r in (8, 16, 32) for size in (100, 1000, 5000)}
    series = {
        f"lora.r={r} lora.target_modules=q,k,v,o,wi_0,wi_1,wo commit 1234567": [
            (size, means[r, size], means[r, size] - 0.02, means[r, size] + 0.03, 3 if r == 8 else 1 + size % 3)
            for size in (100, 1000, 5000)
        ]
        for r in (8, 16, 32)
    }
    drawn = {
        "rouge.png": lambda path: plots.plot_rouge(scores(0.23), scores(0.41), path),
        "topics.png": lambda path: plots.plot_topics({"min_dialogues": 5, "topics": topics}, path),
        "lengths.png": lambda path: plots.plot_lengths(references, predictions, path, cut, 128),
        "lengths-none-cut.png": lambda path: plots.plot_lengths(references, predictions, path, None, 128),
        "loss.png": lambda path: plots.plot_curves(
            {"training": curve, "validation": curve}, path, "cross-entropy loss", "LoRA fine-tuning: loss", 80
        ),
        "validation_rouge.png": lambda path: plots.plot_curves(
            {name: curve for name in ROUGE},
            path,
            "F1 on validation dialogues",
            "LoRA fine-tuning: validation ROUGE",
            80,
        ),
        "experiments.png": lambda path: plots.plot_experiments(rows, changed_params(rows), path),
        "against.png": lambda path: plots.plot_against(
            series,
            "train.dialogues",
            path,
            [
                "2 run(s) with results but no number for train.dialogues",
                "seed 2 ran twice with other results (an-experiment-name, another-experiment-name)",
            ],
        ),
    }
    for name, draw in drawn.items():
        draw(directory / name)
    return {name: directory / name for name in drawn}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> tuple[dict, list[dict]]:
    """Every plot drawn once (draw_every_plot): the PNGs, and per figure in the order drawn, its
    size in inches and each text drawn in it (the text, its size in points, whether its box lies
    inside the figure), as the renderer placed them."""
    figures: dict[int, dict] = {}
    draw = matplotlib.text.Text.draw

    def recording_draw(text, renderer):
        if text.get_visible() and text.get_text():
            figure = text.get_figure(root=True)
            # The figure itself is kept: a figure freed could lend its id to the next one.
            found = figures.setdefault(
                id(figure), {"figure": figure, "inches": tuple(figure.get_size_inches()), "texts": {}}
            )
            box, bounds = text.get_window_extent(renderer), figure.bbox
            inside = bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and bounds.y0 <= box.y0 and box.y1 <= bounds.y1
            # By the text (which its figure keeps): a figure is drawn more than once, and the last draw is the PNG.
            found["texts"][id(text)] = (text.get_text(), text.get_fontsize(), inside)
        return draw(text, renderer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.text.Text, "draw", recording_draw)
        pngs = draw_every_plot(tmp_path_factory.mktemp("plots"))
    return pngs, [{**figure, "texts": list(figure["texts"].values())} for figure in figures.values()]


def test_every_plot_fits_a_papers_width_with_no_small_or_clipped_text(drawn):
    pngs, figures = drawn
    assert len(figures) == len(pngs)
    for figure in figures:
        width, height = figure["inches"]
        assert 3.4 <= width <= 7.0 and height <= 9.0  # a column to a page's text width, and no taller than a page
        small = [(text, size) for text, size, _ in figure["texts"] if size < plots.MIN_FONT]
        clipped = [text for text, _, inside in figure["texts"] if not inside]
        assert small == [] and clipped == [], (figure["texts"][0], small, clipped)
    texts = [text for figure in figures for text, _, _ in figure["texts"]]
    assert max(len(line) for text in texts for line in text.splitlines()) <= plots.TITLE_CHARACTERS
    (long,) = {text for text in texts if text.startswith(LONG[:20]) and text.endswith(" (30)")}
    assert long.endswith("… (30)") and len(long) <= plots.LABEL_CHARACTERS + len(" (30)")  # shortened, and said to be
    assert "topic $1 (29)" in texts  # drawn as it is, never as math


def test_the_plots_say_what_they_leave_out(drawn):
    pngs, figures = drawn
    texts = dict(zip((name.removesuffix(".png") for name in pngs), (figure["texts"] for figure in figures)))
    by_plot = {name: " ".join(text for text, _, _ in found).replace("\n", " ") for name, found in texts.items()}
    assert "20 of the 25 topics" in by_plot["topics"]
    # Summaries that stopped at max_new_tokens are marked and counted, per system; or said to be none.
    assert "baseline: 6 cut at 128 new tokens" in by_plot["lengths"] and "finetuned:" not in by_plot["lengths"]
    assert "none cut at 128 new tokens" in by_plot["lengths-none-cut"]
    rows = many_experiments(18)
    assert f"best {plots.MAX_EXPERIMENTS} of {len(rows)} runs" in by_plot["experiments"]
    names = [text.splitlines()[0] for text, _, _ in texts["experiments"]]
    assert rows[plots.MAX_EXPERIMENTS - 1]["name"] in names and rows[plots.MAX_EXPERIMENTS]["name"] not in names
    assert "2 run(s) with results but no number for train.dialogues" in by_plot["against"]
    assert "seed 2 ran twice" in by_plot["against"]
    assert "lora.r=8 lora.target_modules=q,k,v,o,wi_0,wi_1,wo commit 1234567 (3 seeds a point)" in by_plot["against"]
    assert sum(text == "2 seeds" for text, _, _ in texts["against"]) == 4  # the other series: beside each point
    assert "weights kept (step 80)" in by_plot["loss"]


@pytest.mark.slow  # every plot drawn a second time
def test_every_plot_is_the_same_bytes_drawn_again(drawn, tmp_path):
    first = {name: path.read_bytes() for name, path in drawn[0].items()}
    again = {name: path.read_bytes() for name, path in draw_every_plot(tmp_path).items()}
    assert first == again
    for png in first.values():
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in png
