"""The report names what it came from, shows every score with its interval and the paired
comparison, and shows ids, names and texts as text: nothing a dialogue, summary, topic or
model name holds becomes markup."""

import markdown_it
import pytest

from dialogsum_lora.results.report import write_report

ROUGE = {"rouge1": 0.2, "rouge2": 0.1, "rougeL": 0.15, "rougeLsum": 0.16}
INTERVALS = {name: {"low": value - 0.01, "high": value + 0.02} for name, value in ROUGE.items()}
LENGTH = {"prediction_words": 30.0, "reference_words": 20.0, "over_twice_reference": 0.25, "under_half_reference": 0.0}
HOSTILE = "<script>alert(1)</script>"


def report_inputs(
    p_value: float = 0.0,
    low: float = 0.05,
    high: float = 0.15,
    dialogues: int = 500,
    min_topic_dialogues: int = 1,
    topics=None,
    shots=None,
) -> dict:
    from test_model_card import RECORD

    from dialogsum_lora.modeling.adapter import AdapterRecord
    from dialogsum_lora.provenance import DataSource
    from dialogsum_lora.results.run import Results

    metrics = {
        **ROUGE,
        "ci95": INTERVALS,
        "best_reference": ROUGE,
        "num_dialogues": dialogues,
        "num_references": 2,
        "length": LENGTH,
    }
    comparison = {
        "num_dialogues": dialogues,
        "resamples": 1000,
        **{
            name: {"difference": 0.1, "low": low, "high": high, "p_value": p_value, "wins": 1, "ties": 0, "losses": 0}
            for name in ROUGE
        },
    }
    example = {
        "id": HOSTILE,
        "dialogue": "#Person1#: ```\n# Not a heading\n</code> <b>bold</b>\n#Person2#: ~~~ ok",
        "references": ["**Person1** reads [a link](http://example.com).", "1. a list? | a | table |"],
        "baseline": {"summary": "<img src=x onerror=alert(1)>", "rouge1": 0.1},
        "finetuned": {"summary": "_emphasis_ & &amp; entity costs $5 and $x^2$", "rouge1": 0.3},
    }
    record = AdapterRecord.model_validate(
        {**RECORD, "model": {**RECORD["model"], "name": "[model](http://evil)", "resolved": "sha256:abc"}}
    )
    data = DataSource(name="data/*sample*", revision=None, resolved="sha256:def")
    results = Results(data, {"max_new_tokens": 128, "num_beams": 1}, metrics, metrics, comparison, shots)
    topics = {
        "min_dialogues": min_topic_dialogues,
        "topics": topics
        if topics is not None
        else [{"topic": "# <b>heading</b>", "dialogues": 1, "baseline": ROUGE, "finetuned": ROUGE}],
    }
    return {
        "record": record,
        "results": results,
        "model_name": "[model](http://evil)",
        "topics": topics,
        "gains": [example],
        "losses": [],
        "plots": [],
    }


def render(tmp_path, **inputs) -> tuple[str, str]:
    report = tmp_path / "report.md"
    write_report(report, **inputs)
    text = report.read_text()
    return text, markdown_it.MarkdownIt("commonmark").enable("table").render(text)


def test_ids_and_texts_are_written_as_text_never_as_markup(tmp_path):
    _, html = render(tmp_path, **report_inputs())
    for markup in ("<script", "<img", "<a ", "<strong>Person1", "<em>", "<b>", "<ol", "<del"):
        assert markup not in html, markup
    # The report's own title and sections; the scores, lengths and topics tables.
    assert html.count("<h1") == 1 and html.count("<table") == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the id, shown as written
    assert (
        "&lt;img src=x onerror=alert(1)&gt;" in html and "_emphasis_ &amp; &amp;amp; entity costs $5 and $x^2$" in html
    )
    assert "\\$x^2\\$" in render(tmp_path, **report_inputs())[0]  # no math either: every $ escaped
    assert "[model](http://evil)" in html and "data/*sample*" in html and "# &lt;b&gt;heading&lt;/b&gt;" in html
    start = html.index("<pre><code>") + len("<pre><code>")  # the first code block (code spans name settings)
    code = html[start : html.index("</code>", start)]
    assert code == (
        "#Person1#: ```\n# Not a heading\n&lt;/code&gt; &lt;b&gt;bold&lt;/b&gt;\n#Person2#: ~~~ ok\n"
    )  # the dialogue, whole and verbatim, in one code block


def test_the_report_names_its_run_and_shows_intervals_and_significance(tmp_path):
    text, _ = render(tmp_path, **report_inputs())
    for fact in (
        "rank 32",
        "alpha 32",
        "dropout 0.05",
        "1,558 steps",
        "batch 8",
        "`learning_rate=0.001`",
        "greedy",
        "max_new_tokens 128",
        "num_beams 1",
        "1,000 resamples",
    ):
        assert fact in text, fact
    row = next(line for line in text.splitlines() if line.startswith("| rouge1 |"))
    assert [cell.strip() for cell in row.split("|")[2:7]] == [
        "0.2000 [0.1900, 0.2200]",
        "0.2000 [0.1900, 0.2200]",
        "+0.1000 [+0.0500, +0.1500]",
        "< 0.001",
        "1 / 0 / 0",
    ]
    significance = next(line for line in text.splitlines() if line.startswith("**Significance:**"))
    assert "finetuned is better than baseline" in significance
    assert "| mean words | 30.0 | 30.0 |" in text and "25.0%" in text
    assert "## Largest losses (ROUGE-1)\n\nNone." in text
    undecided, _ = render(tmp_path, **report_inputs(p_value=0.2, low=-0.01))
    assert "not distinguishable" in undecided and "| 0.200 |" in undecided
    no_topics, _ = render(tmp_path, **report_inputs(min_topic_dialogues=5, topics=[]))
    assert "No topic has 5 or more" in no_topics


def test_the_report_names_the_baseline_it_compares_against(tmp_path):
    from dialogsum_lora.evaluation import Shots

    def baseline_row(html: str) -> str:
        return next(line for line in html.splitlines() if line.startswith("<li><strong>baseline:</strong>"))

    assert "zero-shot" in baseline_row(render(tmp_path, **report_inputs())[1])
    assert "zero-shot" in baseline_row(render(tmp_path, **report_inputs(shots=Shots(ids=[], seed=42)))[1])
    row = baseline_row(render(tmp_path, **report_inputs(shots=Shots(ids=["train_6", HOSTILE], seed=7)))[1])
    for fact in ("2-shot", "train_6", "&lt;script&gt;", "seed 7"):
        assert fact in row, (fact, row)


@pytest.mark.parametrize("dialogues, low, high", [(1, 0.1, 0.1), (2, 0.05, 0.15), (500, 0.1, 0.1)])
def test_too_little_evidence_for_a_bootstrap_is_said_never_called_significant(tmp_path, dialogues, low, high):
    # One or two dialogues, or an interval of zero width: the comparison cannot tell, whatever p says.
    text, _ = render(tmp_path, **report_inputs(p_value=0.0, low=low, high=high, dialogues=dialogues))
    significance = next(line for line in text.splitlines() if line.startswith("**Significance:**"))
    assert "cannot tell" in significance and "better" not in significance


def test_text_reaching_a_plot_is_drawn_as_text_never_as_math(tmp_path):
    from dialogsum_lora.results.plots import plot_topics

    # A topic of DialogSum's with a dollar in it broke evaluate: matplotlib parsed "$\\frac{" as math.
    topics = {
        "min_dialogues": 1,
        "topics": [
            {"topic": "paying $5 for \\frac{a}{", "dialogues": 1, "baseline": ROUGE, "finetuned": ROUGE},
            {"topic": "$x^2$ and $", "dialogues": 1, "baseline": ROUGE, "finetuned": ROUGE},
        ],
    }
    plot_topics(topics, tmp_path / "topics.png")
    assert (tmp_path / "topics.png").read_bytes().startswith(b"\x89PNG")


def test_summaries_rouge_cannot_see_are_flagged_in_the_report(tmp_path):
    from dataclasses import replace

    inputs = report_inputs()
    results = inputs["results"]
    inputs["results"] = replace(
        results,
        finetuned={**results.finetuned, "blank_predictions": 3},
        baseline={**results.baseline, "unfinished_summaries": 500},
    )
    text, _ = render(tmp_path, **inputs)
    blank, unfinished = [line for line in text.splitlines() if line.startswith("**Warning:**")]
    assert "3 finetuned" in blank and "ROUGE" in blank and "baseline" not in blank
    assert "500 baseline" in unfinished and "max_new_tokens" in unfinished and "finetuned" not in unfinished
