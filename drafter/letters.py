"""The draft letter in Layout A wording (plain text / Markdown) and as DOCX."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined

from drafter.intake import Case

DECISION_LABEL = {"upheld": "Upheld", "overturned": "Overturned", "needs_review": "NEEDS REVIEWER DECISION"}


def claims_administrator_basis(case: Case) -> str:
    """What the UR letter says it relied on ("Guidelines cited: ..."), or a placeholder to fill in."""
    for d in case.documents:
        if d.is_ur:
            m = re.search(r"(?:guidelines?\s+(?:cited|utilized|used|applied|relied upon)|criteria used)\s*:\s*(.+?)(?:\n\s*\n|$)", d.text, re.I | re.S)
            if m:
                return " ".join(m.group(1).split()).rstrip(".") + "."
    return "[the guideline named in the UR letter]."


def reviewer_basis(citations: list[dict]) -> str:
    if not citations:
        return "[no MTUS passage governs this item: reviewer to name the guideline applied]."
    parts = []
    for c in citations:
        pages = c.get("pages") or []
        where = f", page{'s' if len(pages) > 1 else ''} {', '.join(map(str, pages))}" if pages else ""
        parts.append(f"{c['guideline']} ({c['edition']}), {c['topic']}{where}")
    return "; ".join(dict.fromkeys(parts)) + "."


def render_letter(case: Case, summary: str, items: list[dict], model: str, prompt_version: str) -> str:
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    src = resources.files("drafter.templates").joinpath("letter_a.md.j2").read_text(encoding="utf-8")
    claims = claims_administrator_basis(case)
    rows = [dict(it, decision_label=DECISION_LABEL[it["decision"]], claims_basis=claims, reviewer_basis=reviewer_basis(it["citations"])) for it in items]
    return env.from_string(src).render(items=rows, summary=summary, request_date=case.request_date, model=model, prompt_version=prompt_version)


_HEADINGS = {"HOW THE IMR FINAL DETERMINATION WAS MADE", "CLINICAL CASE SUMMARY", "IMR ISSUES, DECISIONS AND RATIONALES"}


def write_docx(letter_text: str, path: Path) -> Path:
    """The letter as a Word document: the three headings as headings, everything else as paragraphs."""
    import docx

    doc = docx.Document()
    for block in re.split(r"\n\s*\n", letter_text.strip()):
        block = block.strip()
        if block in _HEADINGS:
            doc.add_heading(block, level=2)
        else:
            para = doc.add_paragraph()
            for i, line in enumerate(block.split("\n")):
                if i:
                    para.add_run().add_break()
                run = para.add_run(line)
                if re.search(r":\s+(Upheld|Overturned|NEEDS REVIEWER DECISION)$", line):
                    run.bold = True
    path = Path(path)
    doc.save(str(path))
    return path
