"""Drafting in the background: one queue and one worker thread per loaded model.

A job drafts a case's items one by one and stores each as it finishes (then the case summary), so the reviewer
sees and edits item 1 while 2 and 3 draft, a refresh loses nothing, and cancel stops before the next item. The
worker never writes the working copy: the case's tab takes finished items in (ReviewSession.adopt), so the
reviewer's own edits and the new items go through the same versioned save.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from drafter.errors import DrafterError
from drafter.facts import FactFinder
from drafter.review.identity import Identity
from drafter.review.store import AuditStore

log = logging.getLogger(__name__)
SUMMARY = -1  # job_results index of the case summary and letter fields


class DraftQueue:
    """Jobs in the audit database (so every app process and tab sees them); this process's worker runs them."""

    def __init__(self, drafter, store: AuditStore, lock: threading.Lock, stale_after_s: float) -> None:
        self.drafter = drafter
        self.stale_after_s = stale_after_s
        self.store = store
        self.lock = lock  # the model's lock: regenerate and the Prompts-page eval take it too
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DraftQueue:
        self.store.interrupt_stale_jobs(self.stale_after_s)
        self._thread = threading.Thread(target=self._loop, name="imr-draft-worker", daemon=True)
        self._thread.start()
        return self

    def submit(self, case_id: str, user: Identity, items: list[str], request_date: dt.date | None) -> int:
        job_id = self.store.create_job(case_id, user, items, request_date.isoformat() if request_date else None)
        self._wake.set()
        return job_id

    def cancel(self, job_id: int) -> None:
        """A queued job never starts; a running one stops after the item it is drafting."""
        if not self.store.set_job_status(job_id, "cancelled", only_from=("queued",)):
            self.store.set_job_status(job_id, "cancelling", only_from=("running",))

    def stop(self) -> None:
        """End the worker after the job it is running (tests; a server simply exits)."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._next()
            except Exception as exc:  # a database hiccup must not kill the worker; try again shortly
                log.warning("draft worker: the audit database is unreachable (%s); retrying", type(exc).__name__)
                self._wake.wait(timeout=5.0)

    def _next(self) -> None:
        while not self._stop.is_set():
            queued = self.store.jobs(("queued",))
            if not queued:
                self._wake.wait(timeout=2.0)
                self._wake.clear()
                continue
            job = queued[0]
            if not self.store.set_job_status(job["id"], "running", only_from=("queued",)):
                continue  # cancelled meanwhile
            try:
                self._run(job)
            except DrafterError as exc:
                self.store.set_job_status(job["id"], "failed", error=str(exc))
            except Exception as exc:  # the worker must survive any one case; the job says what went wrong
                log.exception("draft job %s failed", job["id"])
                self.store.set_job_status(job["id"], "failed", error=f"Drafting failed unexpectedly ({type(exc).__name__}); "
                                                                     "try again, and report it if it repeats.")

    def _run(self, job: dict) -> None:
        import json

        from drafter.review.session import ReviewSession

        user = Identity(id=job["user_id"], name=job["reviewer"])
        session = ReviewSession(self.drafter, self.store, user, job["case_id"])
        items = json.loads(job["items_json"])
        date = dt.date.fromisoformat(job["request_date"]) if job["request_date"] else None
        case = session.ws.case(items=items, request_date=date)
        ff = FactFinder(case)
        case_text = "\n".join(d.text for d in case.evidence)
        drafted = {}
        todo = self.drafter.iter_items(case, ff, case_text)
        while True:
            if self.store.job(job["id"])["status"] == "cancelling":
                self.store.set_job_status(job["id"], "cancelled")
                return
            with self.lock:
                nxt = next(todo, None)
            if nxt is None:
                break
            n, d = nxt
            drafted[n] = d
            self.store.add_job_result(job["id"], n, d.model_dump())
        with self.lock:
            draft = session._assemble(case, [drafted[n] for n in sorted(drafted)])
        self.store.save_draft(job["case_id"], user, draft.model_dump(), self.drafter.settings.llm.backend)
        header, basis = session._letter_fields(case)
        self.store.add_job_result(job["id"], SUMMARY, {"summary": draft.case_summary.text, "model": draft.model,
                                                       "prompt_version": draft.prompt_version, "request_date": draft.request_date,
                                                       "warnings": draft.warnings, "header": header, "claims_basis": basis})
        self.store.set_job_status(job["id"], "done", only_from=("running", "cancelling"))
