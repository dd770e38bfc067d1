"""Parse IMR final determination letters (all published layouts) into case summary, items, decisions,
guideline bases, citations and rationales, through the usual text-extraction quirks."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from drafter.citations import NormCitation, normalize
from drafter.errors import DrafterError


class LetterParseError(DrafterError):
    """The file is not an IMR determination letter, or none of its items could be read."""


class LetterItem(BaseModel):
    item: str
    decision: str  # upheld | overturned
    claims_administrator_basis: str = ""
    reviewer_basis: str = ""
    citations: list[NormCitation] = Field(default_factory=list)
    rationale: str = ""


class ParsedLetter(BaseModel):
    layout: str
    header: dict[str, str] = Field(default_factory=dict)
    case_summary: str
    items: list[LetterItem]


def _h(words: str) -> str:
    """A heading as a pattern that survives line breaks inside it and odd spacing."""
    parts = [re.escape(w) for w in words.split()]
    return r"\s*".join(p.replace(r"\(", r"\(?").replace(r"\)", r"\)?") for p in parts)


H_HOW = _h("HOW THE IMR FINAL DETERMINATION WAS MADE")
H_SUMMARY = _h("CLINICAL CASE SUMMARY")
H_ISSUES = _h("IMR ISSUES, DECISIONS AND RATIONALES")
H_B_DECISIONS = _h("IMR DECISION(S) AND RATIONALE(S)")
H_DOCS = _h("DOCUMENTS REVIEWED")
H_C_NOTICE = _h("Notice of Independent Medical Review Determination")
H_D_ISSUE = r"ISSUES?\s*AT\s*DISPUTE\s*:"  # one item, or "ISSUES AT DISPUTE:" with a numbered list
H_D_SUMMARY = r"(?<![A-Z] )" + _h("CASE SUMMARY:")
H_D_DOCS = _h("DOCUMENTS REVIEWED FOR DETERMINATION:")
H_D_GUIDE = _h("MEDICAL TREATMENT GUIDELINE(S) RELIED UPON BY PROFESSIONAL REVIEWER AND WHY:")
# the heading states the decision: "IS/WAS NOT MEDICALLY NECESSARY", or "IS MEDICALLY NECESSARY" when overturned
H_D_RATIONALE = (_h("RATIONALE FOR WHY THE REQUESTED TREATMENT/SERVICE") + r"\s*(?:IS|WAS)(?:\s*/\s*(?:IS|WAS))?(?:\s*NOT)?\s*"
                 + _h("MEDICALLY NECESSARY:"))
H_D_QUALS = _h("MEDICAL REVIEWER QUALIFICATIONS:")
BOILERPLATE = re.compile(r"^.{0,80}?developed the following (?:clinical )?case summary[^:]{0,140}:\s*", re.I | re.S)
_FOOTER = re.compile(r"[ \t]*\bPage\s+\d+\s+of\s+\d+\b[ \t]*", re.I)
_SAMPLE = re.compile(r"^SAMPLE LETTER[^\n]*\n", re.I)


def clean(text: str) -> str:
    """Undo common extraction damage: curly quotes, odd dashes, page footers, glued sentences."""
    t = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    for a, b in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"), ("\u2014", "-"), ("\u2212", "-")):
        t = t.replace(a, b)
    t = _SAMPLE.sub("", t)
    t = re.sub(r"(?<=[a-z])-\n[ \t]*(?=[a-z])|(?<=[A-Z])-\n[ \t]*(?=[A-Z])", "", t)  # "prepara-\ntion", "PROF-\nESSIONAL"
    t = _FOOTER.sub(" ", t)
    t = re.sub(r"(?m)^[ \t]*\d{1,2}[ \t]*$", "", t)  # bare page numbers on their own line
    t = re.sub(r"(?<=[a-z)\]])\.(?=[A-Z][a-z])", ". ", t)  # "the claim.In a Utilization" -> two sentences
    return t


def flat(text: str) -> str:
    return " ".join(text.split())


def _section(text: str, start: str, ends: list[str]) -> str | None:
    m = re.search(start, text, flags=re.I)
    if not m:
        return None
    rest = text[m.end():]
    cut = len(rest)
    for e in ends:
        em = re.search(e, rest, flags=re.I)
        if em:
            cut = min(cut, em.start())
    return rest[:cut].strip()


def _header(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    labels = ["Case Number", "Date Assigned", "Date of Injury", "Decision Date", "UR Denial Date", "Priority", "Application Received",
              "Employee Name", "Provider Name", "Treatment(s) in Dispute Listed Below", "Date of UR Decision", "Date of Request"]
    for lab in labels:
        m = re.search(re.escape(lab) + r"\s*:[ \t]*([^\n]*?)(?=\s{2,}[A-Z][A-Za-z() ]+:|\n|$)", text)
        if m and m.group(1).strip():
            out[lab] = m.group(1).strip()
    return out


def _summary_text(raw: str | None) -> str:
    if not raw:
        return ""
    return flat(BOILERPLATE.sub("", flat(raw)))


def _decision_from(text: str) -> str | None:
    t = flat(text).lower()
    m = list(re.finditer(r"\b(upheld|overturned|is not medically necessary|are not medically necessary|not medically necessary|"
                         r"is medically necessary|are medically necessary)\b", t))
    if not m:
        return None
    last = m[-1].group(1)
    if last in ("upheld",) or "not" in last:
        return "upheld"
    return "overturned"


def _item_from_question(q: str) -> str:
    q = flat(q)
    lead = re.match(r"(.+?)[.:]\s+(?:is|are)\s+(?:the|these|this)\s+requests?\s+(?:\w+\s+){0,2}medically necessary", q, re.I)
    if lead:
        return lead.group(1).strip(" ?.:,")
    m = re.search(r"(?:is|are|was|were)\s+(?:the\s+)?(?:request(?:ed)?\s+(?:for\s+)?)?(.+?)\s+medically necessary", q, re.I)
    return (m.group(1) if m else q).strip(" ?.:,")


def _wrapped_start(text: str, start: int) -> str:
    """The first line of an item name that wraps onto the decision's line ("Hydrocodone/APAP 10/325 mg #120 and\n
    urine drug testing:  Upheld"): the line just before, when it is not blank and does not end a sentence or label."""
    before = text[:start]
    if not before.endswith("\n"):
        return ""
    prev = before[:-1].rsplit("\n", 1)[-1]
    if not prev.strip() or len(prev.strip()) > 120 or re.search(r"[.:;]\s*$", prev) or re.search(r"\b(?:upheld|overturned)\b", prev, re.I):
        return ""
    return prev.strip() + " "


def _parse_a(text: str) -> tuple[str, list[LetterItem]]:
    summary = _summary_text(_section(text, H_SUMMARY, [H_ISSUES]))
    issues = _section(text, H_ISSUES, [r"\n\s*(?:Fees|Effect of the Decision|cc:|\[redacted\] Signature)"]) or ""
    # the decision may sit on the line after the colon ("Physical therapy, 12 sessions:\nUpheld")
    item_re = re.compile(r"(?:^|(?<=[.\n]))[ \t]*(?P<item>[^\n]{2,250}?):[ \t]*(?:\n[ \t]*)?(?P<d>Upheld|Overturned)[ \t]*(?=\n|Claims\s+Administrator|$)", re.I)
    matches = list(item_re.finditer(issues))
    items = []
    for i, m in enumerate(matches):
        block = issues[m.end(): matches[i + 1].start() if i + 1 < len(matches) else len(issues)]
        item = flat(_wrapped_start(issues, m.start("item")) + m.group("item"))
        item = re.split(r"(?<=[.!?])\s+(?=[A-Z])", item)[-1].strip()  # glued to the previous sentence
        item = re.sub(r"^(?:\d+[.)]\s*)", "", item)
        claims = _section(block, _h("Claims Administrator guideline:"), [_h("MAXIMUS guideline:"), _h("Decision rationale:")]) or ""
        reviewer = _section(block, _h("MAXIMUS guideline:"), [_h("Decision rationale:")]) or ""
        rationale = _section(block, _h("Decision rationale:"), []) or ""
        items.append(LetterItem(item=item, decision=m.group("d").lower(), claims_administrator_basis=_basis(claims),
                                reviewer_basis=_basis(reviewer), citations=normalize(_basis(reviewer)), rationale=flat(rationale)))
    return summary, items


def _basis(text: str) -> str:
    return re.sub(r"^Decision based on\s*", "", flat(text), flags=re.I)


_CLAIMS_LABEL = (r"(?:claims\s*administrator\s*guidelines?|guidelines?\s*(?:\(s\))?\s*(?:applied|used|relied\s*upon|cited)\s*by\s*the\s*claims\s*administrator"
                 r"|claims\s*administrator'?s?\s*(?:guideline|basis)[^:\n]*)\s*:")
_REVIEWER_LABEL = (r"(?:maximus\s*guidelines?|(?:expert\s*)?reviewer'?s?\s*guidelines?|guidelines?\s*(?:\(s\))?\s*(?:applied|used|relied\s*upon|cited)\s*by\s*the\s*(?:expert\s*|professional\s*)?reviewer"
                   r"|guidelines?\s*(?:\(s\))?\s*applied)\s*:")
_RATIONALE_LABEL = r"\n\s*(?:decision\s*)?rationale\s*(?:used\s*by\s*the\s*expert\s*reviewer)?\s*:"


def _parse_b(text: str) -> tuple[str, list[LetterItem]]:
    summary = _summary_text(_section(text, H_SUMMARY, [H_B_DECISIONS]))
    body = _section(text, H_B_DECISIONS, []) or ""
    starts = list(re.finditer(r"(?im)^[ \t]*(?:(?:issue|item|question|request)\s*#?\s*)?(\d{1,2})[.):][ \t]+(?=\S)", body))
    items = []
    for i, m in enumerate(starts):
        block = body[m.end(): starts[i + 1].start() if i + 1 < len(starts) else len(body)]
        first = re.split(r"\?|\n\s*\n", block, maxsplit=1)[0]
        item = _item_from_question(first)
        claims = _section(block, _CLAIMS_LABEL, [_REVIEWER_LABEL, _RATIONALE_LABEL]) or ""
        reviewer = _section(block, _REVIEWER_LABEL, [_RATIONALE_LABEL, _CLAIMS_LABEL]) or ""
        rationale = _section(block, _RATIONALE_LABEL, [r"\n\s*decision\s*:"]) or ""
        decision = _decision_from(_section(block, r"\n\s*decision\s*:", []) or "") or _decision_from(rationale)
        if decision:
            items.append(LetterItem(item=item, decision=decision, claims_administrator_basis=_basis(claims), reviewer_basis=_basis(reviewer),
                                    citations=normalize(_basis(reviewer)), rationale=flat(rationale)))
    return summary, items


def _parse_c(text: str) -> tuple[str, list[LetterItem]]:
    lead = re.findall(r"(\d{1,2})\)\s*MAXIMUS\s+Federal\s+Services,?\s+Inc\.?\s+has\s+determined\s+the\s+request\s+for\s+(.+?)\s+(is|are)\s+(not\s+)?medically\s+necessary",
                      flat(text), flags=re.I)
    summary_raw = _section(text, r"\n[ \t]*(?:Expert\s+Reviewer\s+)?Case\s+Summary\s*:?[ \t]*(?=\n)", [r"\n\s*(?:Medical\s+Treatment\s+Guideline|\d\)\s*Regarding|Rationale\s+Used)"])
    summary = _summary_text(summary_raw)
    items = []
    blocks = re.split(r"(?im)^[ \t]*\d{1,2}\)\s*Regarding\s+the\s+request\s+for\s+", text)
    per_item = blocks[1:] if len(blocks) > 1 else []
    for i, (_, item, _verb, neg) in enumerate(lead):
        block = per_item[i] if i < len(per_item) else (text if len(lead) == 1 else "")
        claims = _section(block, r"Guidelines?\s*\(?s?\)?\s*Used\s+by\s+the\s+Claims\s+Administrator[^:\n]*:", [r"Guidelines?\s*\(?s?\)?\s*Used\s+by\s+the\s+Expert"]) or ""
        reviewer = _section(block, r"Guidelines?\s*\(?s?\)?\s*Used\s+by\s+the\s+Expert\s+Reviewer[^:\n]*:", [r"Rationale\s+Used\s+by\s+the\s+Expert"]) or ""
        rationale = _section(block, r"Rationale\s+Used\s+by\s+the\s+Expert\s+Reviewer[^:\n]*:", [r"(?im)^[ \t]*\d{1,2}\)\s*Regarding", r"\n\s*/s/|\n\s*Effect of the Decision"]) or ""
        items.append(LetterItem(item=flat(item), decision="upheld" if neg else "overturned", claims_administrator_basis=flat(claims),
                                reviewer_basis=flat(reviewer), citations=normalize(reviewer), rationale=flat(rationale)))
    return summary, items


def _reviewer_clauses(guide: str, n_items: int) -> dict[int, str]:
    """Split a scraped-layout guideline section among items ("Item 1. ...", "... for item 2"); clauses
    about the claims administrator's basis are left out; clauses naming no item apply to every item."""
    per: dict[int, list[str]] = {i: [] for i in range(n_items)}
    blocks = re.split(r"(?i)\bitem\s+(\d+)\s*[.:]\s*", guide)
    chunks: list[tuple[int | None, str]] = [(None, blocks[0])]
    for k in range(1, len(blocks) - 1, 2):
        chunks.append((int(blocks[k]) - 1, blocks[k + 1]))
    for owner, chunk in chunks:
        sentences = [x for x in re.split(r"(?<=[.;])\s+(?=[A-Z])", chunk) if not re.search(r"claims\s+administrator", x, re.I)]
        for clause in (c for sent in sentences for c in re.split(r",\s+and\s+", sent)):
            if not clause.strip():
                continue
            m = re.search(r"(?i)for\s+item\s+(\d+)", clause)
            target = int(m.group(1)) - 1 if m else owner
            for i in ([target] if target is not None and 0 <= target < n_items else range(n_items)):
                per[i].append(clause)
    return {i: " ".join(c) for i, c in per.items()}


def _numbered_blocks(section: str, n_items: int) -> dict[int, str] | None:
    """A several-item section written as numbered blocks ("1. Cognitive behavioral therapy, 6 sessions: ...", "2. ..."),
    one per item in order; None when the section is not numbered that way."""
    if n_items < 2:
        return None
    starts = list(re.finditer(r"(?m)^[ \t]*(\d{1,2})[.)][ \t]+(?=\S)", section))
    if [int(m.group(1)) for m in starts] != list(range(1, n_items + 1)):
        return None
    return {i: flat(section[m.end(): starts[i + 1].start() if i + 1 < len(starts) else len(section)]) for i, m in enumerate(starts)}


def _parse_d(text: str) -> tuple[str, list[LetterItem]]:
    ends = [H_D_SUMMARY, H_D_DOCS, H_D_GUIDE, H_D_RATIONALE, H_D_QUALS]
    issue = _section(text, H_D_ISSUE, ends) or ""
    summary = _summary_text(_section(text, H_D_SUMMARY, [H_D_DOCS, H_D_GUIDE, H_D_RATIONALE, H_D_QUALS]))
    guide_raw = _section(text, H_D_GUIDE, [H_D_RATIONALE, H_D_QUALS, H_D_DOCS]) or ""
    rationale_raw = _section(text, H_D_RATIONALE, [H_D_QUALS, H_D_GUIDE, H_D_DOCS]) or ""
    guide, rationale = flat(guide_raw), flat(rationale_raw)
    entries: list[list] = []  # [name, decision or None]
    lines = [ln.strip() for ln in issue.split("\n")]
    numbered = any(re.match(r"\d+[.)]\s", ln) for ln in lines)
    in_field = False  # inside an item's labelled sub-line ("Guideline(s) relied upon by ...: ODG Low Back chapter, Bone growth
    for line in lines:  # / stimulators."), whose wrapped continuation is not another item
        if len(line) <= 2:
            continue
        verdict = re.search(r"(?i)\b(upheld|overturned|not medically necessary|medically necessary)\b", line)
        if re.match(r"(?i)determination\s*:", line) and entries:
            if verdict and entries[-1][1] is None:
                entries[-1][1] = _decision_from(line)
            in_field = True
            continue
        if numbered and entries and not re.match(r"\d+[.)]\s", line):
            # a numbered list's unnumbered line: a labelled sub-line, its continuation, or the item's wrapped name
            if re.match(r"[A-Z][\w()/' -]{2,60}:", line):
                in_field = True
            elif not in_field:
                entries[-1][0] = flat(entries[-1][0] + " " + line)
            continue
        in_field = False
        name = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line)
        decision = None
        m = re.search(r"\s+[-–—]+\s+(upheld|overturned)\b.*$", name, re.I)
        if m:
            decision = m.group(1).lower()
            name = name[: m.start()]
        entries.append([flat(name), decision])
    if len(entries) == 1 and ";" in entries[0][0]:
        entries = [[n.strip(), None] for n in entries[0][0].split(";") if n.strip()]
    clauses = _numbered_blocks(guide_raw, len(entries)) or _reviewer_clauses(guide, len(entries))
    own_rationale = _numbered_blocks(rationale_raw, len(entries))
    items = []
    for i, (name, decision) in enumerate(entries):
        if own_rationale:
            rationale = re.sub(r"^[^.:]{0,200}:\s*", "", own_rationale[i])  # the block's lead names the item
        name = re.sub(r"(?i)^(?:the\s+)?request(?:ed)?\s+(?:for\s+)?", "", name).strip(" .:")
        name = re.sub(r"(?i)\s+(?:is|are)\s+(?:not\s+)?medically\s+necessary.*$", "", name).strip(" .")
        if decision is None:
            concl = re.search(rf"request\s+for\s+{re.escape(name[:30])}.{{0,200}}?(not\s+)?medically\s+necessary", rationale, flags=re.I) if name else None
            decision = ("upheld" if concl.group(1) else "overturned") if concl else (_decision_from(rationale) or "upheld")
        basis = clauses.get(i, guide)
        items.append(LetterItem(item=name, decision=decision, reviewer_basis=basis, citations=normalize(basis), rationale=rationale))
    return summary, items


def detect_layout(text: str) -> str | None:
    if re.search(H_ISSUES, text, re.I) and re.search(H_SUMMARY, text, re.I):
        return "A"
    if re.search(H_B_DECISIONS, text, re.I):
        return "B"
    if re.search(H_C_NOTICE, text, re.I) or re.search(r"\d\)\s*MAXIMUS\s+Federal\s+Services,?\s+Inc\.?\s+has\s+determined", flat(text), re.I):
        return "C"
    if re.search(H_D_ISSUE, text, re.I) and re.search(H_D_RATIONALE, text, re.I):
        return "D"
    return None


def parse_letter_text(text: str, name: str = "letter") -> ParsedLetter:
    t = clean(text)
    layout = detect_layout(t)
    if layout is None:
        raise LetterParseError(
            f"{name}: not an IMR determination letter (none of the layouts' section headings, e.g. "
            "'IMR ISSUES, DECISIONS AND RATIONALES' or 'ISSUE AT DISPUTE:', was found)."
        )
    summary, items = {"A": _parse_a, "B": _parse_b, "C": _parse_c, "D": _parse_d}[layout](t)
    if not items:
        raise LetterParseError(f"{name}: layout {layout} letter, but no disputed item with a decision could be read.")
    return ParsedLetter(layout=layout, header=_header(t), case_summary=summary, items=items)


def read_letter_text(path: Path) -> str:
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        try:
            return "\n".join((p.extract_text() or "") for p in PdfReader(str(path)).pages)
        except Exception as exc:  # damaged PDFs raise many types
            raise LetterParseError(f"{path.name}: not a readable PDF ({type(exc).__name__}).") from exc
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LetterParseError(f"{path}: cannot read ({exc}).") from exc


def parse_letter(path: Path) -> ParsedLetter:
    text = read_letter_text(path)
    if len(text.strip()) < 50:
        raise LetterParseError(f"{Path(path).name}: empty or textless (a scanned PDF needs OCR first).")
    return parse_letter_text(text, Path(path).name)
