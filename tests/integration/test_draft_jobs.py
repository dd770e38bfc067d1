"""Background drafting: items arrive one by one, the reviewer edits item 1 while item 2 drafts, a refresh loses
nothing, cancel stops before the next item, and the queue runs on both databases. Real index, fake LLM, and a
gate on draft_item so the test decides when each item finishes."""

from __future__ import annotations

import threading
import time

import pytest

from drafter.chain import Drafter
from drafter.review.identity import Identity
from drafter.review.jobs import DraftQueue
from drafter.review.session import ReviewSession
from drafter.review.store import AuditStore
from tests.conftest import REPO
from tests.integration.conftest import make_settings

pytestmark = pytest.mark.integration
ANN = Identity(id="idp|ann", name="Ann")
ITEMS = ["Additional physical therapy 2 x 6, lumbar spine", "Norco 10/325 #60", "Omeprazole 20mg #30"]


class GatedDrafter:
    """The real Drafter, except each draft_item waits until the test opens its gate."""

    def __init__(self, drafter: Drafter) -> None:
        self._d = drafter
        self.gates = [threading.Event() for _ in ITEMS]
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._d, name)

    iter_items = Drafter.iter_items  # the real drafting order, calling the gated draft_item below

    def draft_item(self, *args, **kwargs):
        n = self.calls
        self.calls += 1
        assert self.gates[n].wait(timeout=120), f"item {n + 1} was never released"
        return self._d.draft_item(*args, **kwargs)


def _until(cond, what: str, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def drafting(built_home, tmp_path, db_url):
    settings = make_settings(built_home, llm={"backend": "fake"})
    store = AuditStore(db_url)
    gated = GatedDrafter(Drafter(settings))
    q = DraftQueue(gated, store, threading.Lock(), stale_after_s=3600).start()
    case_id = store.create_case(ANN, "Three items")
    session = ReviewSession(gated, store, ANN, case_id)
    for f in sorted((REPO / "evals" / "cases" / "case-01-pt-continuation-lumbar").iterdir()):
        if f.name != "expected.json":
            session.ws.add(f.name, f.read_bytes())
    yield q, store, gated, session
    for g in gated.gates:
        g.set()
    q.stop()


def test_items_arrive_one_by_one_and_edits_to_item_one_survive(drafting):
    q, store, gated, session = drafting
    job = q.submit(session.case_id, ANN, ITEMS, None)
    assert session.adopt(None) == (None, [])  # nothing finished yet
    gated.gates[0].set()
    _until(lambda: 0 in store.job_results(job), "item 1")
    state, added = session.adopt(None)
    assert added == [0] and [it.draft["item"] for it in state.items] == ITEMS[:1] and state.pending == ITEMS[1:]
    session.set_rationale(state, 0, "Reviewer's own words for item 1. Therefore, the request is not medically necessary.")
    assert session.problems(state)[0].startswith("The draft is not finished yet")
    gated.gates[1].set()
    _until(lambda: 1 in store.job_results(job), "item 2")
    refreshed = session.load()  # a refresh mid-draft: the saved copy has item 1 with the edit
    assert refreshed.items[0].rationale.startswith("Reviewer's own words") and len(refreshed.items) == 1
    state, added = session.adopt(refreshed)
    assert added == [1] and state.items[0].rationale.startswith("Reviewer's own words")
    gated.gates[2].set()
    _until(lambda: store.job(job)["status"] == "done", "the job")
    state, added = session.adopt(state)
    assert added == [2, -1] and len(state.items) == 3 and state.summary and not state.pending
    assert store.latest_draft(session.case_id) is not None


def test_cancel_stops_before_the_next_item_and_keeps_what_finished(drafting):
    q, store, gated, session = drafting
    job = q.submit(session.case_id, ANN, ITEMS, None)
    gated.gates[0].set()
    _until(lambda: 0 in store.job_results(job), "item 1")
    _until(lambda: gated.calls == 2, "item 2 to start")
    q.cancel(job)
    assert store.job(job)["status"] == "cancelling"
    gated.gates[1].set()
    _until(lambda: store.job(job)["status"] == "cancelled", "the cancel")
    assert sorted(store.job_results(job)) == [0, 1] and gated.calls == 2  # item 3 never started
    state, _ = session.adopt(None)
    assert len(state.items) == 2 and not state.pending


def test_one_draft_per_case_and_a_queued_job_can_be_cancelled(drafting):
    q, store, gated, session = drafting
    first = q.submit(session.case_id, ANN, ITEMS[:1], None)
    with pytest.raises(Exception, match="already being drafted"):
        q.submit(session.case_id, ANN, ITEMS[:1], None)
    other = store.create_case(ANN, "Second")
    second = store.create_job(other, ANN, ITEMS[:1], None)
    assert [j["id"] for j in store.jobs()] == [first, second]
    q.cancel(second)  # still queued behind the first: it never starts
    assert store.job(second)["status"] == "cancelled"
    gated.gates[0].set()
    _until(lambda: store.job(first)["status"] == "done", "the first job")
    assert store.job(second)["status"] == "cancelled" and store.job_results(second) == {}
