"""Facts as the `facts` command prints them: every vocabulary fact for a case (and items), and the
batch form QA and benchmarks use (one process, one pipeline, many excerpts)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from drafter.corpus.schema import FACTS
from drafter.facts.finder import FactFinder
from drafter.facts.schema import Fact
from drafter.intake import Case, Document, find_request_date
from drafter.items import parse_item


def fact_row(f: Fact) -> dict:
    return {"name": f.name, "status": f.status, "value": f.value,
            "evidence": [e.model_dump() for e in f.evidence],
            "negated": f.negated, "historical": f.historical, "hypothetical": f.hypothetical,
            "conflict": f.conflict, "note": f.note}


def case_facts(case: Case, items: list[str] | None = None) -> dict:
    """{request_date, warnings, case: [facts], items: [{item, facts}]} for a loaded case."""
    ff = FactFinder(case)
    out: dict = {"request_date": case.request_date.isoformat() if case.request_date else None,
                 "request_date_source": case.date_source,
                 "warnings": [i.warning() for i in case.instructions]}
    names = list(FACTS)
    if items:
        out["items"] = [{"item": it, "facts": [fact_row(ff.find(n, parse_item(it))) for n in names]} for it in items]
    else:
        out["facts"] = [fact_row(ff.find(n)) for n in names]
    return out


def excerpt_case(text: str, name: str = "excerpt") -> Case:
    doc = Document(name=name, text=text, kind="report")
    date, source = find_request_date([doc])
    return Case(documents=[doc], request_date=date, date_source=source)


def batch(lines: Iterable[str]) -> Iterator[dict]:
    """Each input line {"id", "text", "item"} -> {"id", "facts": [...], "warnings": [...]}."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "text" not in row:
            raise ValueError(f"line {n}: no \"text\" field; each line needs {{\"id\", \"text\", \"item\"}}")
        case = excerpt_case(row["text"], name=str(row.get("id", n)))
        ff = FactFinder(case)
        item = parse_item(row["item"]) if row.get("item") else None
        yield {"id": row.get("id", n), "facts": [fact_row(ff.find(name, item)) for name in FACTS],
               "warnings": [i.warning() for i in case.instructions],
               "request_date": case.request_date.isoformat() if case.request_date else None}
