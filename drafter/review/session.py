"""Reviewer workflow logic (no Streamlit here): case workspaces, drafting with progress, edits that are
audited and survive a refresh, one-item regeneration, the final letter and its exports."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from drafter.chain import CaseDraft, Drafter, ItemDraft
from drafter.facts import FactFinder
from drafter.intake import Case, IntakeError, find_disputed_items, find_request_date, read_document
from drafter.letters import render_letter, write_docx
from drafter.review.store import AuditStore
from drafter.settings import Settings

ALLOWED = (".txt", ".md", ".pdf", ".docx")


class FileReport(BaseModel):
    name: str
    chars: int = 0
    preview: str = ""
    warning: str | None = None
    kept: bool = False


class ItemState(BaseModel):
    """The reviewer's working copy of one item: the draft plus every edit."""

    draft: dict
    rationale: str
    decision: str
    accepted: dict[str, bool] = Field(default_factory=dict)
    added: list[dict] = Field(default_factory=list)


class WorkingState(BaseModel):
    case_id: str
    summary: str
    items: list[ItemState]
    model: str
    prompt_version: str
    request_date: str | None = None
    warnings: list[str] = Field(default_factory=list)

    def citations(self, i: int) -> list[dict]:
        it = self.items[i]
        kept = [c for c in it.draft.get("citations", []) if it.accepted.get(c["chunk_id"], True)]
        return kept + [c for c in it.added if it.accepted.get(c["chunk_id"], True)]


class Workspace:
    """Uploaded and pasted files of one case, on disk under DRAFTER_HOME/cases/<case id>/."""

    def __init__(self, settings: Settings, case_id: str) -> None:
        self.settings = settings
        self.dir = settings.home / "cases" / case_id
        self.dir.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, data: bytes) -> FileReport:
        """Check and keep one upload; a bad file gets a clear warning and is not kept."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name) or "upload.txt"
        limit = self.settings.intake.max_file_mb
        if Path(safe).suffix.lower() not in ALLOWED:
            return FileReport(name=safe, warning=f"{safe}: unsupported type; upload .pdf, .docx, .txt or .md.")
        if len(data) > limit * 2**20:
            return FileReport(name=safe, warning=f"{safe}: {len(data) / 2**20:.1f} MB is over the {limit:g} MB limit; split the file or remove scanned images.")
        path = self.dir / safe
        path.write_bytes(data)
        try:
            doc = read_document(path, self.settings.intake)
        except IntakeError as exc:
            path.unlink(missing_ok=True)
            return FileReport(name=safe, warning=str(exc))
        return FileReport(name=safe, chars=len(doc.text), preview=doc.text[:3000], kept=True)

    def add_text(self, text: str, name: str = "pasted.txt") -> FileReport:
        if not text.strip():
            return FileReport(name=name, warning="The pasted text is empty.")
        return self.add(name, text.encode("utf-8"))

    def remove(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def files(self) -> list[str]:
        return sorted(p.name for p in self.dir.iterdir() if p.is_file())

    def case(self, items: list[str] | None = None, request_date: dt.date | None = None) -> Case:
        docs = [read_document(self.dir / f, self.settings.intake) for f in self.files()]
        if not docs:
            raise IntakeError("No readable case file yet: upload the progress reports, the RFA and the UR letter, or paste text.")
        found = items if items is not None else find_disputed_items(docs)
        date, source = (request_date, "given") if request_date else find_request_date(docs)
        return Case(documents=docs, items=found, request_date=date, date_source=source)


def suggestions(ws: Workspace) -> tuple[list[str], str | None]:
    """The disputed items and the request date the tool finds in the uploaded files (for the reviewer to confirm)."""
    try:
        case = ws.case()
    except IntakeError:
        return [], None
    return case.items, str(case.request_date) if case.request_date else None


def working_from(draft: CaseDraft, case_id: str) -> WorkingState:
    return WorkingState(
        case_id=case_id, summary=draft.case_summary.text, model=draft.model, prompt_version=draft.prompt_version,
        request_date=draft.request_date, warnings=draft.warnings,
        items=[ItemState(draft=it.model_dump(), rationale=it.rationale, decision=it.decision) for it in draft.items],
    )


class ReviewSession:
    """One reviewer's actions on one case; every change goes to the audit store."""

    def __init__(self, drafter: Drafter, store: AuditStore, reviewer: str, case_id: str) -> None:
        self.drafter = drafter
        self.store = store
        self.reviewer = reviewer
        self.case_id = case_id
        self.ws = Workspace(drafter.settings, case_id)

    # -- drafting ---------------------------------------------------------------------------------
    def draft(self, items: list[str], request_date: dt.date | None, on_item: Callable[[int, int, str], None] | None = None) -> WorkingState:
        """Draft every item (progress per item), store the draft, start a fresh working copy."""
        clean = [i.strip() for i in items]
        if not clean or any(not i for i in clean):
            raise IntakeError("Every disputed item needs text; remove empty rows.")
        case = self.ws.case(items=clean, request_date=request_date)
        self.store.update_case(self.case_id, items_json=clean, request_date=str(case.request_date) if case.request_date else None)
        ff = FactFinder(case)
        case_text = "\n".join(d.text for d in case.evidence)
        drafted: list[ItemDraft] = []
        for n, item in enumerate(clean):
            if on_item:
                on_item(n, len(clean), item)
            drafted.append(self.drafter.draft_item(item, case, ff, case_text))
        if on_item:
            on_item(len(clean), len(clean), "case summary")
        draft = self._assemble(case, drafted)
        self.store.save_draft(self.case_id, self.reviewer, draft.model_dump(), self.drafter.settings.llm.backend)
        state = working_from(draft, self.case_id)
        self.store.save_working(self.case_id, state.model_dump())
        return state

    def _assemble(self, case: Case, drafted: list[ItemDraft]) -> CaseDraft:
        from drafter.chain import SummaryOutput
        from drafter.summary import select_facts, summarize

        s = self.drafter.settings
        ff = FactFinder(case)
        summ = summarize(self.drafter.chat, s.llm.backend, self.drafter.prompts, select_facts(case, ff, case.items, None),
                         s.llm.max_tokens_summary, s.llm.retries)
        letter = render_letter(case, summ.text, [d.model_dump() for d in drafted], self.drafter.model, self.drafter.prompts.version)
        return CaseDraft(case_summary=SummaryOutput(text=summ.text, sources=summ.sources, fallback_used=summ.fallback_used),
                         items=drafted, letter_text=letter, model=self.drafter.model, prompt_version=self.drafter.prompts.version,
                         request_date=str(case.request_date) if case.request_date else None, request_date_source=case.date_source,
                         timings_s={}, warnings=[i.warning() for i in case.instructions])

    def regenerate(self, state: WorkingState, index: int, guidance: str = "") -> WorkingState:
        """Draft one item again with another sampling seed (and the reviewer's guidance for the prose, which goes
        into the prompt as guidance, never as record text); every other item keeps its edits."""
        items = [it.draft["item"] for it in state.items]
        date = dt.date.fromisoformat(state.request_date) if state.request_date else None
        case = self.ws.case(items=items, request_date=date)
        ff = FactFinder(case)
        old = state.items[index]
        presses = int(old.draft.get("regenerations", 0)) + 1
        new = self.drafter.draft_item(items[index], case, ff, "\n".join(d.text for d in case.evidence),
                                      guidance=guidance.strip()[:300], regenerate=presses)
        dumped = new.model_dump()
        dumped["regenerations"] = presses
        state.items[index] = ItemState(draft=dumped, rationale=new.rationale, decision=new.decision)
        self.store.record_edit(self.case_id, self.reviewer, "regenerate", old.rationale, new.rationale, index)
        self.store.save_working(self.case_id, state.model_dump())
        return state

    def load(self) -> WorkingState | None:
        """The working copy as last saved (after a refresh or from another tab)."""
        saved = self.store.working(self.case_id)
        return WorkingState.model_validate(saved) if saved else None

    # -- edits ------------------------------------------------------------------------------------
    def _edit(self, state: WorkingState, field: str, old: object, new: object, index: int | None = None) -> WorkingState:
        if old != new:
            self.store.record_edit(self.case_id, self.reviewer, field, old, new, index)
            self.store.save_working(self.case_id, state.model_dump())
        return state

    def set_rationale(self, state: WorkingState, i: int, text: str) -> WorkingState:
        old, state.items[i].rationale = state.items[i].rationale, text
        return self._edit(state, "rationale", old, text, i)

    def set_summary(self, state: WorkingState, text: str) -> WorkingState:
        old, state.summary = state.summary, text
        return self._edit(state, "summary", old, text)

    def set_decision(self, state: WorkingState, i: int, decision: str) -> WorkingState:
        if decision not in ("upheld", "overturned", "needs_review"):
            raise ValueError(f"unknown decision {decision!r}")
        old, state.items[i].decision = state.items[i].decision, decision
        return self._edit(state, "decision", old, decision, i)

    def set_citation(self, state: WorkingState, i: int, chunk_id: str, accepted: bool) -> WorkingState:
        old = state.items[i].accepted.get(chunk_id, True)
        state.items[i].accepted[chunk_id] = accepted
        return self._edit(state, "citation", {chunk_id: old}, {chunk_id: accepted}, i)

    def add_passage(self, state: WorkingState, i: int, hit: dict) -> WorkingState:
        """Add a passage the reviewer found with the guideline search (a retrieved chunk, so citable)."""
        if any(c["chunk_id"] == hit["chunk_id"] for c in state.citations(i)):
            return state
        cite = {k: hit[k] for k in ("chunk_id", "guideline", "edition", "topic", "pages")}
        state.items[i].added.append(cite)
        return self._edit(state, "add_citation", None, cite, i)

    # -- letter and exports -----------------------------------------------------------------------
    def letter(self, state: WorkingState) -> str:
        items = [{"item": it.draft["item"], "decision": it.decision, "rationale": it.rationale, "citations": state.citations(n)}
                 for n, it in enumerate(state.items)]
        case = self.ws.case(items=[it.draft["item"] for it in state.items],
                            request_date=dt.date.fromisoformat(state.request_date) if state.request_date else None)
        return render_letter(case, state.summary, items, state.model, state.prompt_version)

    def approve(self, state: WorkingState) -> str:
        if any(it.decision == "needs_review" for it in state.items):
            raise IntakeError("Decide every item marked 'needs review' before approving.")
        text = self.letter(state)
        self.store.approve(self.case_id, self.reviewer, text, state.model_dump())
        return text


def docx_bytes(letter_text: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = write_docx(letter_text, Path(d) / "letter.docx")
        return path.read_bytes()


def pdf_bytes(letter_text: str) -> bytes:
    """The letter as PDF (core Helvetica font: characters outside Latin-1 are replaced)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for block in letter_text.split("\n"):
        line = block.encode("latin-1", "replace").decode("latin-1")
        heading = line.strip() in ("HOW THE IMR FINAL DETERMINATION WAS MADE", "CLINICAL CASE SUMMARY", "IMR ISSUES, DECISIONS AND RATIONALES")
        pdf.set_font("Helvetica", "B" if heading else "", 12 if heading else 10)
        pdf.multi_cell(0, 5, line or " ", new_x="LMARGIN", new_y="NEXT")
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


def remove_case_files(settings: Settings, case_id: str) -> None:
    shutil.rmtree(settings.home / "cases" / case_id, ignore_errors=True)
