"""Reviewer app pages and flows with streamlit.testing (fake LLM, real index)."""

from __future__ import annotations

import json
import os

import pytest
from streamlit.testing.v1 import AppTest

from drafter.review.store import AuditStore
from tests.conftest import REPO

pytestmark = pytest.mark.integration
APP = str(REPO / "app.py")


@pytest.fixture
def app_env(built_home, monkeypatch, tmp_path):
    for k in list(os.environ):
        if k.startswith("DRAFTER_"):
            monkeypatch.delenv(k)
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").symlink_to(built_home / "index")
    monkeypatch.setenv("DRAFTER_HOME", str(home))
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "fake")
    return home


def start(reviewer: str = "ann", case: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["reviewer"] = reviewer
    if case:
        at.query_params["case"] = case
    return at.run()


def new_case_with_sample(at: AppTest, sample: str) -> AppTest:
    at.text_input(key="new_name").input("Sample case")
    at.button(key="new_case").click().run()
    at.selectbox(key="sample").select(sample).run()
    return at.button(key="load_sample").click().run()


def test_draft_edit_approve_flow(app_env):
    at = start()
    assert not at.exception
    at = new_case_with_sample(at, "case-09-muscle-relaxants")
    items = next(t for t in at.text_area if t.key.startswith("items-"))
    assert "Cyclobenzaprine 7.5mg #90" in items.value
    at = at.button(key="draft").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="dec-0").value == "upheld"
    at.text_area(key="rat-0").input("Edited rationale. Therefore, the request is not medically necessary.").run()
    at = at.button(key="approve").click().run()
    assert any("Approved" in s.value for s in at.success)
    db = AuditStore(app_env / "audit.db")
    case = db.cases("ann")[0]
    assert [e["field"] for e in db.edits(case["id"])] == ["rationale"]
    assert "Edited rationale." in db.approvals(case["id"])[0]["final_text"]


def test_refresh_restores_the_working_copy_and_edits(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    at = at.button(key="draft").click().run()
    at.text_area(key="summary").input("A reviewer's own summary.").run()
    case_id = AuditStore(app_env / "audit.db").cases("ann")[0]["id"]
    again = start("ann", case_id)  # a new browser session: nothing in session state
    assert again.text_area(key="summary").value == "A reviewer's own summary."


def test_empty_item_line_is_refused(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    items = next(t for t in at.text_area if t.key.startswith("items-"))
    items.input("Physical therapy 2x6\n\nMRI lumbar").run()
    at = at.button(key="draft").click().run()
    assert any("empty" in e.value for e in at.error)


def test_needs_review_blocks_approval(app_env):
    at = new_case_with_sample(start(), "case-12-zolpidem-not-in-mtus")
    at = at.button(key="draft").click().run()
    assert at.selectbox(key="dec-0").value == "needs_review"
    assert any("could not decide" in w.value for w in at.warning)
    at = at.button(key="approve").click().run()
    assert any("needs review" in e.value for e in at.error)


def test_two_reviewers_do_not_see_each_other(app_env):
    a = new_case_with_sample(start("ann"), "case-01-pt-continuation-lumbar")
    b = start("bob")
    assert not b.exception
    db = AuditStore(app_env / "audit.db")
    ann_case = db.cases("ann")[0]["id"]
    assert db.cases("bob") == []
    intruder = start("bob", ann_case)
    assert "case_id" not in intruder.session_state or intruder.session_state["case_id"] != ann_case
    assert not any(t.key.startswith("items-") for t in intruder.text_area)
    assert a.session_state["case_id"] == ann_case


def test_other_pages_render(app_env, tmp_path):
    from drafter.evaluation.runner import run_eval
    from drafter.settings import Settings

    s = Settings()
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "l1.txt").write_text((REPO / "evals" / "letters" / "letter-01-pt-lumbar-continuation.txt").read_text())
    run_eval(letters, app_env / "evals" / "run1", s, systems=("full", "always_uphold"), progress=False)
    def page(name: str) -> AppTest:
        at = AppTest.from_string(f"from drafter.review.ui import {name}_page\n{name}_page()", default_timeout=240)
        at.session_state["reviewer"] = "ann"
        at = at.run()
        assert not at.exception, (name, at.exception)
        return at

    at = page("evals")
    assert any("IMR Drafter evaluation" in m.value for m in at.markdown)
    at = page("prompts")
    assert any("rationale" in e.label for e in at.expander)
    at = page("settings")
    at.selectbox(key="backend").select("llamacpp").run()
    assert any("stays on this machine" in s.value for s in at.success)
    at.selectbox(key="backend").select("openai").run()
    assert any("sent to the server" in w.value for w in at.warning)


def test_prompts_page_shows_what_the_model_saw_for_the_open_case(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    at = at.button(key="draft").click().run()
    case_id = AuditStore(app_env / "audit.db").cases("ann")[0]["id"]
    page = AppTest.from_string("from drafter.review.ui import prompts_page\nprompts_page()", default_timeout=240)
    page.session_state["reviewer"] = "ann"
    page.query_params["case"] = case_id
    page = page.run()
    assert not page.exception, page.exception
    log = next(e for e in page.expander if e.label.startswith("Additional physical therapy"))
    assert "model attempt" in log.label
    shown = " ".join(c.value for c in log.code)
    assert "The argument, already decided, in order:" in shown, "the rendered prompt is shown"
    assert '"rationale"' in shown, "the model's raw reply is shown"
    assert any("Output checks on the final text" in c.value for c in log.caption)
