"""The report shows ids and texts as text: nothing a dialogue or summary holds becomes markup."""

import markdown_it

from dialogsum_lora.report import write_report

ROUGE = {"rouge1": 0.2, "rouge2": 0.1, "rougeL": 0.15, "rougeLsum": 0.16}


def test_ids_and_texts_are_written_as_text_never_as_markup(tmp_path):
    metrics = {**ROUGE, "best_reference": ROUGE, "num_dialogues": 1, "num_references": 2}
    example = {
        "id": "<script>alert(1)</script>",
        "dialogue": "#Person1#: ```\n# Not a heading\n</code> <b>bold</b>\n#Person2#: ~~~ ok",
        "references": ["**Person1** reads [a link](http://example.com).", "1. a list? | a | table |"],
        "baseline": "<img src=x onerror=alert(1)>",
        "finetuned": "_emphasis_ & &amp; entity",
    }
    report = tmp_path / "report.md"
    write_report(report, metrics, metrics, [example], [])
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(report.read_text())
    for markup in ("<script", "<img", "<a ", "<strong>Person1", "<em>", "<b>", "<ol", "<del"):
        assert markup not in html, markup
    assert html.count("<h1") == html.count("<table") == 1  # the report's own title and metrics table
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the id, shown as written
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "_emphasis_ &amp; &amp;amp; entity" in html
    code = html[html.index("<code>") + len("<code>") : html.index("</code>", html.index("<code>"))]
    assert code == (
        "#Person1#: ```\n# Not a heading\n&lt;/code&gt; &lt;b&gt;bold&lt;/b&gt;\n#Person2#: ~~~ ok\n"
    )  # the dialogue, whole and verbatim, in one code block
