"""The draft letter in Layout A wording (plain text / Markdown) and as DOCX."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel

from drafter.argument import pages_label, source_label
from drafter.claim_header import ClaimHeader
from drafter.dates import us_date
from drafter.intake import Case
from drafter.output_checks import check_data

DECISION_LABEL = {"upheld": "Upheld", "overturned": "Overturned", "needs_review": "NEEDS REVIEWER DECISION"}
# What the letter shows where a fact is still unknown; readiness_problems quotes every one left.
PLACEHOLDER = {
    "claimant": "[claimant name]", "claim_number": "[claim number]", "date_of_injury": "[date of injury]",
    "ur_date": "[UR decision date]", "request_date": "[request date]", "claims_administrator": "[claims administrator]",
    "reviewer_name": "[reviewer name]", "specialty": "[specialty]", "claims_basis": "[the guideline named in the UR letter]",
}
# Bracketed text that is not for the reviewer to fill: redactions in the records, a shortened quote, "[sic]", a checkbox.
_NOT_PLACEHOLDER = re.compile(r"^\s*(?:redacted|\.\.\.|…|sic|x|)\s*$", re.I)


class ReviewerProfile(BaseModel):
    """The expert reviewer who signs: the attestation and the signature block are written from this."""

    name: str = ""
    specialty: str = ""
    credentials: str = ""  # e.g. "MD", "DO, MPH"
    board_certification: str = ""  # free text, e.g. "American Board of Physical Medicine and Rehabilitation"


def claims_administrator_basis(case: Case) -> str:
    """What the UR letter says it relied on ("Guidelines cited: ..."), or a placeholder to fill in."""
    for d in case.documents:
        if d.is_ur:
            m = re.search(r"(?:guidelines?\s+(?:cited|utilized|used|applied|relied upon)|criteria used)\s*:\s*(.+?)(?:\n\s*\n|$)", d.text, re.I | re.S)
            if m:
                return " ".join(m.group(1).split()).rstrip(".") + "."
    return PLACEHOLDER["claims_basis"] + "."


def reviewer_basis(citations: list[dict]) -> str:
    if not citations:
        return "[no MTUS passage governs this item: reviewer to name the guideline applied]."
    pages: dict[tuple[str, str, str], set[int]] = {}
    for c in citations:  # one entry per topic, its pages merged: a topic cited by two passages is named once
        pages.setdefault((c["guideline"], c["edition"], c["topic"]), set()).update(c.get("pages") or [])
    parts = [f"{source_label(g, e)}, {topic}" + (f", {pages_label(sorted(p))}" if p else "") for (g, e, topic), p in pages.items()]
    return "; ".join(parts) + "."


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1] in ".!?" else text + "."


def render_letter(case: Case, summary: str, items: list[dict], model: str, prompt_version: str, *,
                  header: ClaimHeader | None = None, profile: ReviewerProfile | None = None, claims_basis: str | None = None,
                  signed_on: dt.date | None = None) -> str:
    """The letter in Layout A. Unsigned, it opens with the draft banner; with `signed_on` it has no banner and ends with
    the signature block. What is unknown (a header field, the reviewer's specialty) shows as a bracketed placeholder."""
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    src = resources.files("drafter.templates").joinpath("letter_a.md.j2").read_text(encoding="utf-8")
    if claims_basis is not None and claims_basis.strip():
        claims = _sentence(claims_basis)
    else:
        claims = claims_administrator_basis(case)
    # an item no retrieved passage governs (ODG territory) takes the guideline the reviewer names instead
    rows = [dict(it, decision_label=DECISION_LABEL[it["decision"]], claims_basis=claims,
                 reviewer_basis=_sentence(it["basis_text"]) if it.get("basis_text", "").strip() else reviewer_basis(it["citations"]))
            for it in items]
    head = None
    if header is not None:
        head = {f: getattr(header, f) or PLACEHOLDER[f] for f in ("claimant", "claim_number", "date_of_injury", "ur_date", "claims_administrator")}
        head["request_date"] = header.request_date or (us_date(case.request_date.isoformat()) if case.request_date else PLACEHOLDER["request_date"])
    reviewer = None
    if profile is not None or signed_on is not None:
        p = profile or ReviewerProfile()
        reviewer = {"name": p.name.strip() or PLACEHOLDER["reviewer_name"], "specialty": p.specialty.strip() or PLACEHOLDER["specialty"],
                    "credentials": p.credentials.strip(), "board_certification": p.board_certification.strip()}
    return env.from_string(src).render(items=rows, summary=summary, request_date=case.request_date, model=model, prompt_version=prompt_version,
                                       header=head, reviewer=reviewer, specialty_placeholder=PLACEHOLDER["specialty"],
                                       signed_on=us_date(signed_on.isoformat()) if signed_on else None)


# -- readiness to sign ---------------------------------------------------------------------------------
def placeholders(letter_text: str) -> list[str]:
    """Every bracketed placeholder still in the letter, once each, in order ("[specialty]")."""
    found = [m.group(0) for m in re.finditer(r"\[([^\[\]\n]{0,200})\]", letter_text) if not _NOT_PLACEHOLDER.match(m.group(1))]
    return list(dict.fromkeys(found))


def _sentence_at(text: str, pos: int) -> str:
    start = max(text.rfind(". ", 0, pos), text.rfind("\n", 0, pos))
    end = min((i for i in (text.find(". ", pos), text.find("\n", pos)) if i != -1), default=len(text))
    return " ".join(text[start + 1:end + 1].split())


def conclusion_contradiction(rationale: str, decision: str) -> str | None:
    """The rationale's conclusion when it argues the other decision, else None. The conclusion is the last verdict the
    rationale states (its last phrase that argues either way: "is not medically necessary", "is medically necessary")."""
    if decision not in ("upheld", "overturned"):
        return None
    low = rationale.lower()
    last: tuple[int, str] | None = None  # (where, the decision that phrase argues against)
    for against, patterns in check_data()["stance"].items():
        for pattern in patterns:
            for m in re.finditer(pattern, low):
                if last is None or m.end() > last[0]:
                    last = (m.end(), against)
    # the stance patterns (drafter/data/output_checks.yaml) are per decision: the phrases that argue against it
    return _sentence_at(rationale, last[0] - 1) if last is not None and last[1] == decision else None


def readiness_problems(letter_text: str, items: list[dict], profile: ReviewerProfile | None, header: ClaimHeader | None) -> list[str]:
    """What must be fixed before the letter can be approved and signed, in plain words; [] when it is ready."""
    problems: list[str] = []
    covered: set[str] = set()
    if profile is None or not profile.name.strip():
        problems.append("The reviewer's name is missing: enter it in the reviewer profile (it goes in the signature block).")
        covered.add(PLACEHOLDER["reviewer_name"])
    if profile is None or not profile.specialty.strip():
        problems.append("The reviewer's specialty is missing: enter the board-certified specialty in the reviewer profile "
                        "(the attestation and the signature block state it).")
        covered.add(PLACEHOLDER["specialty"])
    if header is None or not header.claimant.strip():
        problems.append("The claimant's name is missing: the case file does not give it; enter it in the claim header.")
        covered.add(PLACEHOLDER["claimant"])
    if header is None or not header.claim_number.strip():
        problems.append("The claim number is missing: the case file does not give it; enter it in the claim header.")
        covered.add(PLACEHOLDER["claim_number"])
    for ph in placeholders(letter_text):
        if ph not in covered:
            problems.append(f'The letter still has the placeholder "{ph}": replace it with the actual text.')
    for n, it in enumerate(items, 1):
        name = it.get("item") or f"item {n}"
        decision = str(it.get("decision", "")).lower()
        if decision not in ("upheld", "overturned"):
            problems.append(f'"{name}" has no decision yet: choose Upheld or Overturned.')
            continue
        said = conclusion_contradiction(it.get("rationale", ""), decision)
        if said:
            other = DECISION_LABEL["overturned" if decision == "upheld" else "upheld"]
            problems.append(f'"{name}" is marked {DECISION_LABEL[decision]}, but its rationale concludes for {other}: '
                            f'"{said}" Change the decision or rewrite the conclusion.')
    return problems


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
