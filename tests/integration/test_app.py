"""Reviewer app pages and flows with streamlit.testing (fake LLM, real index, signed-in users as Streamlit's
st.user presents them after an OpenID Connect sign-in)."""

from __future__ import annotations

import json
import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from drafter.review.identity import Identity
from drafter.review.store import AuditStore
from tests.conftest import REPO

pytestmark = pytest.mark.integration
APP = str(REPO / "app.py")
ISSUER = "https://idp.test"
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-cookie-secret-0123456789abcdef",
        "client_id": "imr-drafter", "client_secret": "test-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


@pytest.fixture(params=["sqlite", "postgresql"])
def app_env(built_home, monkeypatch, tmp_path, request):
    """The app on each audit database: SQLite in DRAFTER_HOME, and a fresh database on the test PostgreSQL."""
    for k in list(os.environ):
        if k.startswith("DRAFTER_"):
            monkeypatch.delenv(k)
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").symlink_to(built_home / "index")
    monkeypatch.setenv("DRAFTER_HOME", str(home))
    if request.param == "postgresql":
        monkeypatch.setenv("DRAFTER_DATABASE_URL", request.getfixturevalue("db_url_for_app"))
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "fake")
    monkeypatch.setenv("DRAFTER_AUTH__QA_LEADS", '["qa@example.org"]')
    return home


@pytest.fixture
def db_url_for_app(pg_server):
    import uuid

    return pg_server.create_database(f"app_{uuid.uuid4().hex[:8]}")


def db(home) -> AuditStore:
    """The audit database the app under test writes to."""
    return AuditStore(os.environ.get("DRAFTER_DATABASE_URL") or str(home / "audit.db"))


def ident(name: str) -> Identity:
    return Identity(id=f"{ISSUER}|{name}", name=name.title())


def login(at: AppTest, name: str | None) -> AppTest:
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False} if name is None else {
        "is_logged_in": True, "sub": name, "iss": ISSUER, "name": name.title(), "email": f"{name}@example.org"}
    return at


def start(reviewer: str | None = "ann", case: str | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240) if page is None else AppTest.from_string(
        f"from drafter.review.ui import {page}_page\n{page}_page()", default_timeout=240)
    login(at, reviewer)
    if case:
        at.query_params["case"] = case
    return at.run()


def new_case_with_sample(at: AppTest, sample: str, name: str = "Sample case") -> AppTest:
    at.text_input(key="new_name").input(name)
    at.button(key="new_case").click().run()
    at.selectbox(key=f"sample-{at.session_state['case_id']}").select(sample).run()
    return at.button(key="load_sample").click().run()


def drafted(at: AppTest, timeout: float = 300) -> AppTest:
    """Drafting runs in the background worker: rerun the page (as its progress fragment does) until the case's
    items and summary are in the working copy."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = at.session_state["state"] if "state" in at.session_state else None
        if state is not None and state.summary and not state.pending:
            return at
        time.sleep(1)
        at = at.run()
    raise AssertionError(f"the draft did not finish in {timeout} s: {[e.value for e in at.error]}")


def items_box(at: AppTest):
    return next(t for t in at.text_area if t.key.startswith("items-"))


def ready_to_sign(at: AppTest) -> AppTest:
    """Fill what a signature needs: the signature block and any claim header field intake did not find."""
    at.text_input(key="prof_cred").input("MD")
    at.text_input(key="prof_spec").input("Physical Medicine and Rehabilitation")
    at = next(b for b in at.button if b.label == "Save signature block").click().run()
    for key, value in (("hdr-claimant", "J. Doe"), ("hdr-claim_number", "ADJ1234567"),
                       ("claims_basis", "MTUS Chronic Pain Medical Treatment Guidelines")):
        box = at.text_input(key=key)
        if not box.value.strip():
            at = box.input(value).run()
    return at


def test_draft_edit_approve_flow(app_env):
    at = start()
    assert not at.exception
    at = new_case_with_sample(at, "case-09-muscle-relaxants")
    assert "Cyclobenzaprine 7.5mg #90" in items_box(at).value
    assert any("Found in the files" in c.value for c in at.caption), "intake says where it found the items"
    at = drafted(at.button(key="draft").click().run())
    assert not at.exception, at.exception
    assert at.selectbox(key="dec-0").value == "upheld"
    at.text_area(key="rat-0").input("Edited rationale. Therefore, the request is not medically necessary.").run()
    at = at.button(key="approve").click().run()
    assert any("signature block" in e.value.lower() or "specialty" in e.value.lower() for e in at.error), "unsigned profile refused"
    at = ready_to_sign(at)
    at = at.button(key="approve").click().run()
    assert not at.exception, at.exception
    assert any("signed" in s.value for s in at.success)
    assert not [sb for sb in at.selectbox if sb.key == "dec-0"], "a signed case shows no editing widgets"
    store = db(app_env)
    case = store.cases(ident("ann"))[0]
    assert [e["field"] for e in store.edits(case["id"]) if not e["field"].startswith("header.")] == ["rationale", "claims_basis"]
    final = store.approvals(case["id"])[0]
    assert "Edited rationale." in final["final_text"] and "DRAFT FOR PHYSICIAN REVIEW" not in final["final_text"]
    assert "Physical Medicine and Rehabilitation" in final["final_text"] and final["user_id"] == ident("ann").id


def test_refresh_restores_the_working_copy_and_edits(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    at = drafted(at.button(key="draft").click().run())
    at.text_area(key="summary").input("A reviewer's own summary.").run()
    case_id = db(app_env).cases(ident("ann"))[0]["id"]
    again = start("ann", case_id)  # a new browser session: nothing in session state
    assert again.text_area(key="summary").value == "A reviewer's own summary."
    assert items_box(again).value == items_box(at).value, "the intake fields persist with the case"


def test_new_case_opens_empty_and_uploads_go_to_it(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar", "First")
    first = at.session_state["case_id"]
    at.text_input(key="new_name").input("Second")
    at = at.button(key="new_case").click().run()
    second = at.session_state["case_id"]
    assert second != first and at.query_params["case"] == second
    assert items_box(at).value == "" and not [e for e in at.expander if e.label.endswith(".txt")]
    at.selectbox(key=f"sample-{second}").select("case-09-muscle-relaxants").run()
    at = at.button(key="load_sample").click().run()
    store = db(app_env)
    assert "Cyclobenzaprine" in json.loads(store.case(second)["items_json"])[0]
    assert "Cyclobenzaprine" not in " ".join(json.loads(store.case(first)["items_json"]))


def test_empty_item_line_is_refused(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    items_box(at).input("Physical therapy 2x6\n\nMRI lumbar").run()
    at = at.button(key="draft").click().run()
    assert any("empty" in e.value for e in at.error)


def test_needs_review_and_a_contradicted_conclusion_block_approval(app_env):
    at = new_case_with_sample(start(), "case-12-zolpidem-not-in-mtus")
    at = ready_to_sign(drafted(at.button(key="draft").click().run()))
    assert at.selectbox(key="dec-0").value == "needs_review"
    assert any("could not decide" in w.value for w in at.warning)
    at = at.button(key="approve").click().run()
    assert any("no decision yet" in e.value for e in at.error)
    at.text_area(key="rat-0").input("Zolpidem is for short-term use. Therefore, the request is not medically necessary.").run()
    at = at.selectbox(key="dec-0").select("overturned").run()
    at = at.button(key="approve").click().run()
    assert any("contradict" in e.value.lower() or "conclu" in e.value.lower() for e in at.error), [e.value for e in at.error]
    assert db(app_env).approvals(at.session_state["case_id"]) == []
    at.text_input(key="basis-0").input("ODG Pain Chapter, Insomnia treatment").run()  # the ODG item: the reviewer names the guideline
    at = at.selectbox(key="dec-0").select("upheld").run()
    at = at.button(key="approve").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "ODG Pain Chapter, Insomnia treatment." in db(app_env).approvals(at.session_state["case_id"])[0]["final_text"]


def test_a_stale_tab_is_told_and_shown_the_newer_text(app_env):
    one = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    one = drafted(one.button(key="draft").click().run())
    case_id = one.session_state["case_id"]
    two = start("ann", case_id)  # a second tab on the same case
    one.text_area(key="summary").input("Tab one's summary.").run()
    two = two.text_area(key="summary").input("Tab two's summary.").run()
    assert any("another tab" in w.value for w in two.warning)
    assert two.text_area(key="summary").value == "Tab one's summary."
    assert db(app_env).working(case_id)["summary"] == "Tab one's summary."


def test_reviewers_see_only_their_cases_and_a_qa_lead_reads_all(app_env):
    a = new_case_with_sample(start("ann"), "case-01-pt-continuation-lumbar")
    ann_case = a.session_state["case_id"]
    store = db(app_env)
    assert store.cases(ident("bob")) == []
    intruder = start("bob", ann_case)
    assert intruder.session_state["case_id"] != ann_case if "case_id" in intruder.session_state else True
    assert not any(t.key.startswith("items-") for t in intruder.text_area)
    qa = start("qa", ann_case)
    assert not qa.exception, qa.exception
    assert qa.session_state["case_id"] == ann_case
    assert any("Read-only" in i.value for i in qa.info) and not any(t.key.startswith("items-") for t in qa.text_area)


def test_sign_in_is_required_when_an_identity_provider_is_configured(app_env):
    at = start(None)
    assert [b.key for b in at.button] == ["sign_in"]
    assert not any(t.key == "new_name" for t in at.text_input)


def test_single_user_mode_is_labelled(app_env):
    at = AppTest.from_file(APP, default_timeout=240).run()
    assert any("Single-user mode" in i.value for i in at.sidebar.info)


def test_other_pages_render_and_follow_roles(app_env, tmp_path):
    from drafter.evaluation.runner import run_eval
    from drafter.settings import Settings

    s = Settings()
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "l1.txt").write_text((REPO / "evals" / "letters" / "letter-01-pt-lumbar-continuation.txt").read_text())
    run_eval(letters, app_env / "evals" / "run1", s, systems=("full", "always_uphold"), progress=False)

    at = start("qa", page="evals")
    assert any("IMR Drafter evaluation" in m.value for m in at.markdown)
    assert not [t for t in at.text_input if t.key == "runs_root"], "runs come from DRAFTER_HOME only"
    assert any("QA leads" in i.value for i in start("ann", page="evals").info)
    at = start("ann", page="prompts")
    assert any("rationale" in e.label for e in at.expander)
    assert any("Settings are for admins" in i.value for i in start("qa", page="settings").info)
    at = AppTest.from_string("from drafter.review.ui import settings_page\nsettings_page()", default_timeout=240).run()  # single user: admin
    at.selectbox(key="backend").select("llamacpp").run()
    assert any("stays on this machine" in s.value for s in at.success)
    at.selectbox(key="backend").select("openai").run()
    assert any("DRAFTER_AUTH__LLM_URL_ALLOWLIST" in e.value for e in at.error), "no free-text model URL"


def test_prompts_page_shows_what_the_model_saw_for_the_open_case(app_env):
    at = new_case_with_sample(start(), "case-01-pt-continuation-lumbar")
    at = drafted(at.button(key="draft").click().run())
    case_id = db(app_env).cases(ident("ann"))[0]["id"]
    page = start("ann", case_id, page="prompts")
    assert not page.exception, page.exception
    log = next(e for e in page.expander if e.label.startswith("Additional physical therapy"))
    assert "model attempt" in log.label
    shown = " ".join(c.value for c in log.code)
    assert "The paragraph's points, already decided, in order:" in shown, "the rendered prompt is shown"
    assert '"rationale"' in shown, "the model's raw reply is shown"
    assert any("Output checks on the final text" in c.value for c in log.caption)


def _fake_run(folder, version: str, rationale_template: str, drafts: list[tuple[str, str]]) -> None:
    """A tiny eval run as `imr-drafter eval` writes it: results.jsonl, provenance.json and the prompts/ snapshot."""
    (folder / "prompts").mkdir(parents=True)
    (folder / "prompts" / "rationale.j2").write_text(rationale_template)
    (folder / "prompts" / "system.j2").write_text("{# version: 1 #}\nYou draft IMR letters for a physician to edit.\n")
    (folder / "provenance.json").write_text(json.dumps({"prompt_version": version, "run": {}}))
    rows = []
    for i, ((decision, text), item) in enumerate(zip(drafts, ["Aquatic therapy x8", "Meloxicam 15mg #30"])):
        rows.append({"letter": "/letters/sample-letter-07.txt", "item_index": i, "system": "full",
                     "gold": {"item": item, "decision": "upheld", "citations": [], "rationale": f"The letter's own reasoning on {item}."},
                     "draft": {"decision": decision, "rationale": text, "citations": []},
                     "metrics": {"decision": {"value": float(decision == "upheld"), "reason": "r"},
                                 "rouge_l": {"value": 0.1 + 0.1 * len(text.split()) / 10, "reason": "r"}}})
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def two_runs_home(monkeypatch, tmp_path):
    """DRAFTER_HOME with two hand-written eval runs of two prompt versions (the Prompts page needs no index)."""
    for k in list(os.environ):
        if k.startswith("DRAFTER_"):
            monkeypatch.delenv(k)
    home = tmp_path / "home"
    monkeypatch.setenv("DRAFTER_HOME", str(home))
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "fake")
    monkeypatch.setenv("DRAFTER_AUTH__QA_LEADS", '["qa@example.org"]')
    _fake_run(home / "evals" / "20240101-000000-base", "rationale@3#aaaa1111",
              "{# version: 3 #}\nWrite the rationale from the argument.\n",
              [("overturned", "Aquatic therapy is reasonable for this applicant."),
               ("upheld", "Long-term NSAID use lacks a <b>documented</b> benefit & monitoring.")])
    _fake_run(home / "evals" / "20240102-000000-try", "rationale@4#bbbb2222",
              "{# version: 4 #}\nWrite the rationale from the argument.\nName the page of every limit you compare against.\n",
              [("upheld", "Aquatic therapy is not supported without extreme obesity documented on page 22."),
               ("upheld", "Long-term NSAID use lacks a <b>documented</b> benefit & monitoring.")])
    return home


def test_prompts_page_compares_two_runs_for_a_qa_lead_only(two_runs_home):
    at = start("qa", page="prompts")
    assert not at.exception, at.exception
    assert (at.selectbox(key="cmp_a").value, at.selectbox(key="cmp_b").value) == ("20240101-000000-base", "20240102-000000-try")
    assert any("`rationale@3#aaaa1111` -> `rationale@4#bbbb2222`" in m.value for m in at.markdown)
    assert any("rationale.j2**: version 3 -> 4" in m.value for m in at.markdown)
    diffs = [c.value for c in at.code if c.language == "diff"]
    assert len(diffs) == 1, "only the changed template is diffed"
    assert "+Name the page of every limit you compare against." in diffs[0] and "-{# version: 3 #}" in diffs[0]
    table = next(m.value for m in at.markdown if m.value.startswith("| Metric | A | B | B - A |"))
    assert "| decision | 0.500 | 1.000 | +0.500 |" in table and "| rouge_l |" in table
    items = [e for e in at.expander if "#0" in e.label or "#1" in e.label]
    assert len(items) == 1 and "DECISION CHANGED" in items[0].label and "overturned -> upheld" in items[0].label
    shown = [h.value for h in items[0].html]
    assert any("The letter&#x27;s own reasoning on Aquatic therapy x8." in h for h in shown)
    assert any("<del>reasonable for this applicant</del>" in h for h in shown), shown
    assert any("<ins>not supported without extreme obesity documented on page 22</ins>" in h for h in shown), shown

    at.checkbox(key="cmp_only").uncheck().run()  # the unchanged item too, its markup escaped
    items = [e for e in at.expander if "#0" in e.label or "#1" in e.label]
    assert [("DECISION" in e.label, "(same)" in e.label) for e in items] == [(True, False), (False, True)]
    same = " ".join(h.value for h in items[1].html)
    assert "&lt;b&gt;documented&lt;/b&gt; benefit &amp; monitoring" in same and "<b>" not in same

    at.selectbox(key="cmp_b").select("20240101-000000-base").run()
    assert any("two different runs" in i.value for i in at.info)

    ann = start("ann", page="prompts")
    assert not ann.exception, ann.exception
    assert not [s for s in ann.selectbox if s.key in ("cmp_a", "cmp_b")]
    assert not [c for c in ann.code if c.language == "diff"] and not any("| Metric |" in m.value for m in ann.markdown)
    assert not any("Compare two runs" in h.value for h in ann.subheader)


def test_precedents_panel_shows_past_decisions_and_flags_a_decision_against_a_strong_majority(app_env, monkeypatch):
    """The sample letters, ingested into this home's archive, appear beside the drafted item: its family's outcome
    line, the nearest past items, and a warning when the reviewer's decision goes against a strong majority."""
    from drafter.precedents.archive import LetterArchive
    from drafter.settings import Settings

    monkeypatch.setenv("DRAFTER_PRECEDENTS__STRONG_MIN_N", "3")
    report = LetterArchive(Settings()).ingest(sorted((REPO / "evals" / "letters").glob("*.txt")))
    assert report.failed and all("not-a-letter" in f.path for f in report.failed), "the one non-letter is reported, not fatal"
    at = start()
    at = new_case_with_sample(at, "case-09-muscle-relaxants")
    at = drafted(at.button(key="draft").click().run())
    assert not at.exception, at.exception
    panel = next(e for e in at.expander if e.label.startswith("Precedents:"))
    assert "upheld" in panel.label and "n=" in panel.label, panel.label
    assert any(".txt" in m.value and "Upheld" in m.value for m in panel.markdown), "nearest past items with their letters"
    assert not any("strong majority" in w.value for w in at.warning), "an upheld draft agrees with the archive"
    at = at.selectbox(key="dec-0").select("overturned").run()
    assert any("goes against a strong majority" in w.value for w in at.warning), [w.value for w in at.warning]

