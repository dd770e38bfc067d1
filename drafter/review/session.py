"""Reviewer workflow logic (no Streamlit here): case workspaces, drafting with progress, edits that are
audited and survive a refresh, one-item regeneration, the final letter and its exports."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from drafter.associated import associations
from drafter.chain import CaseDraft, Drafter, ItemDraft
from drafter.claim_header import ClaimHeader, find_claim_header
from drafter.facts import FactFinder
from drafter.intake import (
    Case,
    Document,
    IntakeError,
    check_limits,
    find_disputed_items,
    find_items_with_sources,
    find_request_date,
    find_request_date_with_source,
    read_document,
)
from drafter.letters import (
    ReviewerProfile,
    claims_administrator_basis,
    readiness_problems,
    render_letter,
    write_docx,
)
from drafter.review.identity import Identity
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
    basis_text: str = Field(default="", description="the guideline the reviewer applied, typed where no MTUS passage governs")


class WorkingState(BaseModel):
    case_id: str
    summary: str
    items: list[ItemState]
    model: str
    prompt_version: str
    request_date: str | None = None
    warnings: list[str] = Field(default_factory=list)
    header: dict[str, str] = Field(default_factory=dict, description="claim header fields of the letter, as the reviewer left them")
    claims_basis: str = Field(default="", description="the guideline the Claims Administrator relied on, from the UR letter or typed")
    version: int = Field(default=0, description="the working copy's version this tab holds (0: none saved yet)", exclude=True)
    job_id: int | None = Field(default=None, description="the drafting job these items came from")
    pending: list[str] = Field(default_factory=list, description="items the job is still drafting")

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
        total = sum(len(d.text) for d in self.documents())
        if total > self.settings.intake.max_case_chars:  # the same case limit the CLI applies, said at upload time
            path.unlink(missing_ok=True)
            return FileReport(name=safe, warning=f"{safe}: with it the case would hold {total:,} characters of text, over the "
                              f"{self.settings.intake.max_case_chars:,} limit (DRAFTER_INTAKE__MAX_CASE_CHARS); upload the relevant "
                              "reports only.")
        return FileReport(name=safe, chars=len(doc.text), preview=doc.text[:3000], kept=True)

    def add_text(self, text: str, name: str = "pasted.txt") -> FileReport:
        if not text.strip():
            return FileReport(name=name, warning="The pasted text is empty.")
        return self.add(name, text.encode("utf-8"))

    def remove(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def files(self) -> list[str]:
        return sorted(p.name for p in self.dir.iterdir() if p.is_file())

    def documents(self) -> list[Document]:
        return [read_document(self.dir / f, self.settings.intake) for f in self.files()]

    def case(self, items: list[str] | None = None, request_date: dt.date | None = None) -> Case:
        """The case as the CLI would load it: the same character and item limits (intake.check_limits)."""
        docs = self.documents()
        if not docs:
            raise IntakeError("No readable case file yet: upload the progress reports, the RFA and the UR letter, or paste text.")
        found = items if items is not None else find_disputed_items(docs)
        date, source = (request_date, "given") if request_date else find_request_date(docs)
        case = Case(documents=docs, items=found, request_date=date, date_source=source)
        check_limits(case, self.settings.intake, "this case")
        return case


def intake_findings(ws: Workspace) -> dict:
    """What intake found in the uploaded files, with where: the disputed items and the request date (kept with the case)."""
    try:
        docs = ws.documents()
    except IntakeError:
        docs = []
    items = [f.model_dump() for f in find_items_with_sources(docs)] if docs else []
    date, how, line = find_request_date_with_source(docs) if docs else (None, "", "")
    return {"items": items, "request_date": date.isoformat() if date else None, "date_how": how, "date_line": line}


class ReviewSession:
    """One reviewer's actions on one case; every change goes to the audit store."""

    def __init__(self, drafter: Drafter, store: AuditStore, reviewer: Identity, case_id: str) -> None:
        self.drafter = drafter
        self.store = store
        self.reviewer = reviewer
        self.case_id = case_id
        self.ws = Workspace(drafter.settings, case_id)

    # -- drafting ---------------------------------------------------------------------------------
    def adopt(self, state: WorkingState | None) -> tuple[WorkingState | None, list[int]]:
        """Take what the case's latest drafting job has finished into the working copy: a new job starts a fresh
        copy; items already taken keep the reviewer's edits. Returns the state and the indexes it added (the
        summary as -1). A stale tab gets StaleWorkingCopy like any other save."""
        from drafter.review.jobs import SUMMARY

        job = self.store.latest_job(self.case_id)
        if job is None or job["status"] == "queued":
            return state, []
        results = self.store.job_results(job["id"])
        items = json.loads(job["items_json"])
        if state is None or state.job_id != job["id"]:
            if not results:
                return state, []
            state = WorkingState(case_id=self.case_id, summary="", items=[], model=self.drafter.model,
                                 prompt_version=self.drafter.prompts.version, request_date=job["request_date"], job_id=job["id"],
                                 version=state.version if state else self.store.working_copy(self.case_id).version
                                 if self.store.working_copy(self.case_id) else 0)
        added = [n for n in range(len(state.items), len(items)) if n in results]
        added = added[:next((k for k, n in enumerate(added) if n != len(state.items) + k), len(added))]  # in order only
        for n in added:
            d = results[n]
            state.items.append(ItemState(draft=d, rationale=d["rationale"], decision=d["decision"]))
        if SUMMARY in results and not state.summary:
            r = results[SUMMARY]
            state.summary, state.model, state.prompt_version = r["summary"], r["model"], r["prompt_version"]
            state.request_date, state.warnings = r["request_date"], r["warnings"]
            state.header, state.claims_basis = r["header"], r["claims_basis"]
            added.append(SUMMARY)
        active = job["status"] in ("running", "cancelling")
        state.pending = items[len(state.items):] if active else []
        if added:
            state.version = self.store.save_working(self.case_id, state.model_dump(), self.reviewer, state.version)
        return state, added

    def _letter_fields(self, case: Case) -> tuple[dict[str, str], str]:
        header = find_claim_header(case)
        basis = claims_administrator_basis(case)
        return header.model_dump(exclude={"sources"}), ("" if basis.startswith("[") else basis)

    def _assemble(self, case: Case, drafted: list[ItemDraft]) -> CaseDraft:
        from drafter.chain import SummaryOutput

        summ = self.drafter.summarize(case, FactFinder(case))
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
        link = associations(items).get(index)
        # a served request counts with the decision the reviewer now holds for it, not the one first proposed
        served = [ItemDraft.model_validate(state.items[p].draft).model_copy(update={"decision": state.items[p].decision})
                  for p in link.primaries if p < len(state.items) and state.items[p].draft] if link else None
        new = self.drafter.draft_item(items[index], case, ff, "\n".join(d.text for d in case.evidence),
                                      guidance=guidance.strip()[:300], regenerate=presses, link=link, served=served)
        dumped = new.model_dump()
        dumped["regenerations"] = presses
        state.items[index] = ItemState(draft=dumped, rationale=new.rationale, decision=new.decision)
        return self._edit(state, "regenerate", old.rationale, new.rationale, index)

    def load(self) -> WorkingState | None:
        """The working copy as last saved (after a refresh or from another tab), with its version."""
        wc = self.store.working_copy(self.case_id)
        if wc is None:
            return None
        state = WorkingState.model_validate(wc.state)
        state.version = wc.version
        return state

    # -- edits ------------------------------------------------------------------------------------
    def _edit(self, state: WorkingState, field: str, old: object, new: object, index: int | None = None) -> WorkingState:
        """Record the edit and the working copy it produced together; a stale tab gets StaleWorkingCopy."""
        if old != new:
            state.version = self.store.record_edit(self.case_id, self.reviewer, field, old, new, index,
                                                   state=state.model_dump(), expected_version=state.version)
        return state

    def set_header(self, state: WorkingState, field: str, value: str) -> WorkingState:
        old = state.header.get(field, "")
        state.header[field] = value.strip()
        return self._edit(state, f"header.{field}", old, value.strip())

    def set_claims_basis(self, state: WorkingState, text: str) -> WorkingState:
        old, state.claims_basis = state.claims_basis, text.strip()
        return self._edit(state, "claims_basis", old, text.strip())

    def set_rationale(self, state: WorkingState, i: int, text: str) -> WorkingState:
        old, state.items[i].rationale = state.items[i].rationale, text
        return self._edit(state, "rationale", old, text, i)

    def set_basis_text(self, state: WorkingState, i: int, text: str) -> WorkingState:
        old, state.items[i].basis_text = state.items[i].basis_text, text.strip()
        return self._edit(state, "basis_text", old, text.strip(), i)

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
        cite = {k: hit[k] for k in ("chunk_id", "guideline", "edition", "topic", "pages")} | {"heading": hit.get("heading", "")}
        state.items[i].added.append(cite)
        return self._edit(state, "add_citation", None, cite, i)

    # -- letter and exports -----------------------------------------------------------------------
    def _letter_items(self, state: WorkingState) -> list[dict]:
        return [{"item": it.draft["item"], "decision": it.decision, "rationale": it.rationale, "citations": state.citations(n),
                 "basis_text": it.basis_text} for n, it in enumerate(state.items)]

    def profile(self) -> ReviewerProfile | None:
        row = self.store.profile(self.reviewer.id)
        return ReviewerProfile(name=row["name"], specialty=row["specialty"], credentials=row["credentials"],
                               board_certification=row["certification"]) if row else None

    def _letter_case(self, state: WorkingState) -> Case:
        return self.ws.case(items=[it.draft["item"] for it in state.items],
                            request_date=dt.date.fromisoformat(state.request_date) if state.request_date else None)

    @staticmethod
    def _header(state: WorkingState) -> ClaimHeader:
        return ClaimHeader(**{k: v for k, v in state.header.items() if k in ClaimHeader.model_fields and k != "sources"})

    def letter(self, state: WorkingState, signed_on: dt.date | None = None, case: Case | None = None) -> str:
        """The letter from the working copy (`case`: the case files already read, so a caller reads them once)."""
        return render_letter(case or self._letter_case(state), state.summary, self._letter_items(state), state.model,
                             state.prompt_version, header=self._header(state), profile=self.profile(),
                             claims_basis=state.claims_basis or None, signed_on=signed_on)

    def problems(self, state: WorkingState, case: Case | None = None) -> list[str]:
        """What still stands between this letter and a signature (empty: ready to sign)."""
        if state.pending or not state.summary:
            return ["The draft is not finished yet: " + ("; ".join(state.pending) or "the case summary") + " still drafting."]
        signed = self.letter(state, signed_on=dt.date.today(), case=case)
        return readiness_problems(signed, self._letter_items(state), self.profile(), self._header(state))

    def preview(self, state: WorkingState) -> tuple[str, list[str]]:
        """The unsigned letter and what blocks signing it, from one reading of the case files (each page rerun)."""
        case = self._letter_case(state)
        return self.letter(state, case=case), self.problems(state, case=case)

    def approve(self, state: WorkingState) -> str:
        """Sign and record the letter in one transaction; refused, naming what to fix, unless it is ready."""
        case = self._letter_case(state)
        problems = self.problems(state, case=case)
        if problems:
            raise IntakeError("Not ready to sign: " + " ".join(f"({n}) {p}" for n, p in enumerate(problems, 1)))
        today = dt.date.today()
        text = self.letter(state, signed_on=today, case=case)
        self.store.approve(self.case_id, self.reviewer, text, state.model_dump(), expected_version=state.version, signed_on=today.isoformat())
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
