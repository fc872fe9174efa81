"""Text written into markdown (the report, the model cards) as text, never as markup."""

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; these are the ones
# that can start markup (emphasis, links, headings, lists, tables, HTML, entities, code, and the
# $ of the math that GitHub and many viewers render).
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~=:$])")


def as_text(text: str) -> str:
    """`text` on one markdown line, shown as itself: nothing in it is read as markup."""
    return _MARKUP.sub(r"\\\1", " ".join(text.split()))


def as_code_block(text: str, language: str = "") -> list[str]:
    """`text` as a fenced code block whose fence no run of backticks inside can close."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence + language, text, fence]
