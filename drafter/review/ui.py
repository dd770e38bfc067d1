"""Streamlit pages of the reviewer app. Logic lives in drafter.review.session / store; this module only
lays out widgets and calls it."""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
import time
import zlib
from pathlib import Path

import streamlit as st

from drafter.corpus.chunks import pages_label
from drafter.errors import DrafterError
from drafter.intake import IntakeError
from drafter.review.identity import Identity, from_claims, single_user
from drafter.review.session import (
    ReviewSession,
    WorkingState,
    Workspace,
    docx_bytes,
    intake_findings,
    pdf_bytes,
)
from drafter.retrieval import passage_heading
from drafter.review.store import AuditStore, CaseApproved, StaleWorkingCopy
from drafter.settings import REPO_ROOT, Settings

SAMPLE_CASES = REPO_ROOT / "evals" / "cases"
STATUS_ICON = {"met": "MET", "not_met": "NOT MET", "unknown": "NOT DOCUMENTED"}
DECISIONS = ["upheld", "overturned", "needs_review"]
DECISION_LABEL = {"upheld": "Upheld (not medically necessary)", "overturned": "Overturned (medically necessary)",
                  "needs_review": "Needs the reviewer's decision"}
SHORT_GUIDELINE = {"MTUS Chronic Pain Medical Treatment Guidelines": "MTUS CPMTG", "MTUS ACOEM Practice Guidelines": "MTUS ACOEM",
                   "MTUS Postsurgical Treatment Guidelines": "MTUS Postsurgical", "MTUS ACOEM-based Guidelines": "MTUS ACOEM-based"}
HEADER_FIELDS = {"claimant": "Claimant", "claim_number": "Claim number", "date_of_injury": "Date of injury", "ur_date": "UR decision date",
                 "request_date": "Request (RFA) date", "employer": "Employer", "claims_administrator": "Claims Administrator"}


# -- shared resources (one per server process, shared by every session) -------------------------------
@st.cache_resource(show_spinner="Loading the guideline index and the model...")
def _drafter(key: str):
    from drafter.chain import Drafter

    settings = Settings.model_validate_json(key)
    return Drafter(settings), threading.Lock()


@st.cache_resource(show_spinner=False)
def _queue(key: str):
    """The drafting queue of one loaded model, with its one worker thread (shared by every session)."""
    from drafter.review.jobs import DraftQueue

    drafter, lock = _drafter(key)
    s = Settings.model_validate_json(key)
    return DraftQueue(drafter, _store(s.audit_url), lock, s.auth.stale_job_minutes * 60).start()


def queue():
    return _queue(settings().model_dump_json())


@st.cache_resource(show_spinner=False)
def _archive(key: str):
    """The letter archive, sharing the loaded drafter's embedding model and Chroma client."""
    from drafter.precedents.archive import LetterArchive

    drafter, _ = _drafter(key)
    index = drafter.retriever.index
    return LetterArchive(Settings.model_validate_json(key), embeddings=index.embeddings, client=index.client)


@st.cache_resource(show_spinner="Opening the audit database...")
def _store(url: str) -> AuditStore:
    return AuditStore(url)


def settings() -> Settings:
    if "settings_json" not in st.session_state:
        st.session_state.settings_json = Settings().model_dump_json()
    return Settings.model_validate_json(st.session_state.settings_json)


def store() -> AuditStore:
    return _store(settings().audit_url)


# -- identity -----------------------------------------------------------------------------------------
def auth_configured() -> bool:
    """True when Streamlit's secrets hold an [auth] section (an OpenID Connect provider)."""
    try:
        return bool(st.secrets.get("auth"))
    except Exception:  # no secrets file at all
        return False


def signed_in() -> Identity | None:
    """The signed-in user; with an identity provider and nobody signed in, shows the sign-in screen and returns None."""
    if not auth_configured():
        user = single_user(settings().auth)
    elif not st.user.is_logged_in:
        st.title("IMR Drafter")
        st.write("Sign in with your organization's account to draft and review determinations.")
        if st.button("Sign in", key="sign_in", type="primary"):
            st.login()
        return None
    else:
        user = from_claims(st.user.to_dict(), settings().auth)
    if st.session_state.get("touched") != user.id:
        store().touch_user(user)
        st.session_state.touched = user.id
    return user


def sidebar(user: Identity) -> None:
    s = settings()
    if user.single_user:
        st.sidebar.info(f"Single-user mode: no sign-in on this machine; the audit trail records every action as "
                        f"'{user.name}'. A team configures an identity provider (README, 'Deploying for a team').")
    else:
        st.sidebar.markdown(f"Signed in as **{user.name}** ({user.email or user.id}) · {user.label.split('(')[-1].rstrip(')')}")
        if st.sidebar.button("Sign out", key="sign_out"):
            st.logout()
    backend = s.llm.backend
    where = "embedded model: case text stays on this machine" if backend == "llamacpp" else (
        "a model server: case text is sent there" if backend == "openai" else "fake model (testing)")
    st.sidebar.caption(f"Model: **{backend}** ({where})")
    _queue_panel()
    _profile_form(user)


def _queue_panel() -> None:
    jobs = store().jobs()
    if not jobs:
        st.sidebar.caption("Drafting queue: empty")
        return
    lines = []
    for n, j in enumerate(jobs):
        items = json.loads(j["items_json"])
        done = len([k for k in store().job_results(j["id"]) if k >= 0]) if j["status"] != "queued" else 0
        what = f"drafting item {min(done + 1, len(items))} of {len(items)}" if j["status"] == "running" else (
            "cancelling" if j["status"] == "cancelling" else f"waiting ({n} ahead)")
        lines.append(f"- {html.escape(j['case_name'])} ({html.escape(j['reviewer'])}): {what}")
    st.sidebar.markdown("**Drafting queue**\n" + "\n".join(lines))


def _profile_form(user: Identity) -> None:
    row = store().profile(user.id) or {}
    # a form: the four fields and Save arrive together (a click while a field's own rerun runs is not lost)
    with st.sidebar.expander("Your signature block" + ("" if row.get("specialty") else " (fill in before signing)")), \
            st.form("profile", border=False):
        name = st.text_input("Name as signed", value=row.get("name") or user.name, key="prof_name")
        cred = st.text_input("Credentials", value=row.get("credentials", ""), key="prof_cred", placeholder="MD")
        spec = st.text_input("Specialty", value=row.get("specialty", ""), key="prof_spec", placeholder="Physical Medicine and Rehabilitation")
        cert = st.text_input("Board certification", value=row.get("certification", ""), key="prof_cert")
        if st.form_submit_button("Save signature block"):
            store().save_profile(user, name, spec, cred, cert)
            st.success("Saved.")


def _page(title: str) -> Identity | None:
    """Every page's start: the signed-in user (or the sign-in screen), the sidebar, the title."""
    user = signed_in()
    if user is not None:
        sidebar(user)
        st.title(title)
    return user


# -- Draft page ---------------------------------------------------------------------------------------
def _readable(case: dict, user: Identity) -> bool:
    return user.can_read(case.get("owner_id"))


def _current_case(user: Identity) -> str | None:
    case_id = st.session_state.get("case_id") or st.query_params.get("case")
    case = store().case(case_id) if case_id else None
    if case and _readable(case, user):
        st.session_state.case_id = case_id
        return case_id
    return None


def _open_case(case_id: str) -> None:
    """Switch this tab to another case: nothing of the previous case's state stays in the session."""
    for key in [k for k in st.session_state if k in ("state", "case_id") or k.startswith(("pick", "paste-", "guide-", "q-"))]:
        del st.session_state[key]
    st.session_state.case_id = case_id
    st.query_params["case"] = case_id


def _case_label(c: dict) -> str:
    status = "signed" if c["status"] == "approved" else c["status"]
    return f"{c['name']} · {status} · {dt.datetime.fromtimestamp(c['created']):%Y-%m-%d %H:%M}" + ("" if c.get("mine", True) else f" · {c['reviewer']}")


def _case_picker(user: Identity) -> str | None:
    db = store()
    everyone = user.role in ("qa_lead", "admin") and not user.single_user and st.toggle("All reviewers' cases (read-only)", key="all_cases",
                                                             value=user.role == "qa_lead")
    cases = db.cases(None if everyone else user)
    for c in cases:
        c["mine"] = c.get("owner_id") == user.id
    labels = {c["id"]: _case_label(c) for c in cases}
    case_id = _current_case(user)
    cols = st.columns([3, 1])
    if cases:
        ids = list(labels)
        if case_id and case_id not in labels:
            ids.insert(0, case_id)
            labels[case_id] = _case_label({**db.case(case_id), "mine": False})
        # the key follows the labels: a case signed meanwhile shows as signed, not as the label the widget first drew
        pick = cols[0].selectbox("Cases" if everyone else "Your cases", ids, format_func=labels.get,
                                 index=ids.index(case_id) if case_id in ids else 0,
                                 key=f"pick-{case_id}-{zlib.crc32(repr(labels).encode())}")
        if pick != case_id:
            _open_case(pick)
            st.rerun()
    if user.role != "qa_lead":
        name = cols[1].text_input("New case name", value="", key="new_name")
        if cols[1].button("New case", key="new_case"):
            _open_case(db.create_case(user, name.strip() or f"Case {len(db.cases(user)) + 1}"))
            st.rerun()
    return case_id


def draft_page() -> None:
    user = _page("Draft an IMR determination")
    if user is None:
        return
    case_id = _case_picker(user)
    if not case_id:
        st.info("Create a case to start: upload or paste the progress reports, the RFA and the UR letter.")
        return
    case = store().case(case_id)
    editable = user.can_edit(case.get("owner_id")) and case["status"] != "approved"
    if case["status"] == "approved":
        st.success(f"This case is signed ({_when(store().approvals(case_id)[-1]['created'])}); its letter is final and read-only.")
    elif not editable:
        st.info(f"Read-only: this case belongs to {case['reviewer']}.")
    ws = Workspace(settings(), case_id)
    session = ReviewSession(_drafter(settings().model_dump_json())[0], store(), user, case_id) if editable else None
    if editable:
        _intake(ws, case_id)
        items_text, date_text = _items_and_date(ws, case)
        st.subheader("3. Draft")
        st.caption("Drafting takes about a minute per item on the embedded model. Uploaded files and every saved edit "
                   "stay in the audit database.")
        job = store().latest_job(case_id)
        running = bool(job and job["status"] in store().ACTIVE)
        if st.button("Draft all items", key="draft", disabled=not ws.files() or running, type="primary"):
            _run_draft(session, items_text, date_text)
        job_slot = st.container()  # filled after the working copy has taken in what the job finished
    state = _state(session, case_id)
    if editable:
        with job_slot:
            _job_panel(case_id)
    if state is None:
        return
    if editable:
        _verify_and_edit(session, state)
        _approve(session, state)
    else:
        _read_only(case_id, state)
    _timeline(case_id)


def _state(session: ReviewSession | None, case_id: str) -> WorkingState | None:
    """This tab's working copy: the one it holds, else the saved one (after a refresh, a case switch, a new draft, or
    another tab's save), whose text then goes into every edit widget."""
    state = st.session_state.get("state")
    if state is not None and state.case_id == case_id:
        if session is not None:
            state = _adopt(session, state)
        _sync_widgets(state, force=False)
        return state
    if session is not None:
        state = session.load()
    else:
        wc = store().working_copy(case_id)
        state = WorkingState.model_validate(wc.state) if wc else None
    if session is not None:
        state = _adopt(session, state)
    st.session_state.state = state
    if state is not None:
        _sync_widgets(state, force=True)
    return state


def _adopt(session: ReviewSession, state: WorkingState | None) -> WorkingState | None:
    """Take the drafting job's finished items into this tab's working copy, before any edit widget is drawn."""
    try:
        new, added = session.adopt(state)
    except StaleWorkingCopy:
        return session.load()  # another tab took them first: its copy is the newer one
    if added and new is not None:
        st.session_state.state = new
        for key in [k for k in st.session_state if k.startswith(("rat-", "dec-", "cite-", "basis-"))] if new.job_id != (state and state.job_id) else []:
            del st.session_state[key]  # a new draft: the previous draft's widgets go
        _sync_widgets(new, force=False)
        if -1 in added:  # the summary and the letter fields arrive last, into widgets drawn empty meanwhile
            st.session_state["summary"], st.session_state["claims_basis"] = new.summary, new.claims_basis
            for f in HEADER_FIELDS:
                st.session_state[f"hdr-{f}"] = new.header.get(f, "")
            st.session_state.draft_ready = True
    return new


def _sync_widgets(state: WorkingState, force: bool) -> None:
    """Edit widgets take their text from session state, never from `value=`: a widget keeps what the browser last
    sent, so after another tab's save (or a regenerate) only writing the newer text here replaces what the reviewer
    sees. Without `force`, only widgets Streamlit forgot (another page was open) are filled."""
    values: dict[str, object] = {"summary": state.summary, "claims_basis": state.claims_basis}
    values.update({f"hdr-{f}": state.header.get(f, "") for f in HEADER_FIELDS})
    for i, it in enumerate(state.items):
        values.update({f"rat-{i}": it.rationale, f"dec-{i}": it.decision, f"basis-{i}": it.basis_text})
        for c in it.draft.get("citations", []) + it.added:
            values[f"cite-{i}-{c['chunk_id']}"] = it.accepted.get(c["chunk_id"], True)
    for key, value in values.items():
        if force or key not in st.session_state:
            st.session_state[key] = value


def _reload() -> None:
    """Drop this tab's copy and rerun: the next run reads the saved working copy and refills the widgets."""
    st.session_state.pop("state", None)
    st.rerun()


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%b %d, %Y %H:%M")


def _intake(ws: Workspace, case_id: str) -> None:
    s = settings()
    st.subheader("1. Case files")
    uploads = st.file_uploader("Case files (PDF, DOCX, TXT)", type=["pdf", "docx", "txt", "md"], accept_multiple_files=True,
                               key=f"up-{case_id}")
    reports = st.session_state.setdefault(f"reports-{case_id}", {})
    current = set()
    for up in uploads or []:
        tag = f"{up.name}:{up.size}"
        current.add(tag)
        if tag not in reports:
            reports[tag] = ws.add(up.name, up.getvalue()).model_dump()
    for tag in [t for t in reports if t not in current and not t.startswith("pasted")]:
        del reports[tag]  # removed from the uploader: its message goes with it
    with st.expander("Paste text instead"):
        pasted = st.text_area("Paste a report or letter", key=f"paste-{case_id}", height=150)
        if st.button("Add pasted text", key="add_paste"):
            report = ws.add_text(pasted, f"pasted-{int(time.time())}.txt")
            if report.warning:
                st.error(report.warning)
    sample = st.selectbox("Or load a sample case (written for testing, not real records)",
                          [""] + sorted(p.name for p in SAMPLE_CASES.glob("case-*")), key=f"sample-{case_id}")
    if sample and st.button("Load sample", key="load_sample"):
        for f in sorted((SAMPLE_CASES / sample).iterdir()):
            if f.name != "expected.json":
                rep = ws.add(f.name, f.read_bytes())
                if rep.warning:
                    st.error(rep.warning)
    for rep in reports.values():
        if rep.get("warning"):
            st.error(rep["warning"])
    for f in ws.files():
        with st.expander(f"{f}"):
            try:
                from drafter.intake import read_document

                doc = read_document(ws.dir / f, s.intake)
                st.caption(f"{len(doc.text):,} characters; read as {doc.kind}")
                st.text(doc.text[:4000] + (" ..." if len(doc.text) > 4000 else ""))
            except IntakeError as exc:
                st.error(str(exc))
            if st.button("Remove", key=f"rm-{f}"):
                ws.remove(f)
                st.rerun()


def _items_and_date(ws: Workspace, case: dict) -> tuple[str, str]:
    """The disputed items and request date: what intake found (and where), kept with the case once confirmed."""
    case_id = case["id"]
    st.subheader("2. Disputed items and request date")
    saved = json.loads(case.get("intake_json") or "{}")
    signature = list(ws.files())
    if saved.get("files") != signature:  # new or removed files: read them again, once
        found = intake_findings(ws)
        saved = {**found, "files": signature}
        items = [i["text"] for i in found["items"]] if found["items"] else json.loads(case.get("items_json") or "[]")
        store().update_case(case_id, intake_json=saved, items_json=items, request_date=found.get("request_date") or case.get("request_date"))
        st.session_state[f"items-{case_id}"] = "\n".join(items)
        st.session_state[f"date-{case_id}"] = found.get("request_date") or case.get("request_date") or ""
    st.session_state.setdefault(f"items-{case_id}", "\n".join(json.loads(case.get("items_json") or "[]")))
    st.session_state.setdefault(f"date-{case_id}", case.get("request_date") or "")
    if signature:
        if saved.get("items"):
            st.caption("Found in the files: " + "; ".join(f"**{i['text']}** ({i['document']}, {i['how']})" for i in saved["items"]))
        else:
            st.warning("No disputed items were found in the files (no RFA list or UR decision lines); type them below.")
        if saved.get("request_date"):
            st.caption(f"Request date {saved['request_date']} found in {saved.get('date_how', '')}: \u201c{saved.get('date_line', '')}\u201d")
        else:
            st.warning("No request date was found (RFA date, UR letter or 'request dated ...'); type it below, since it selects the "
                       "guideline edition.")
    items_text = st.text_area("One disputed item per line (edit as needed)", key=f"items-{case_id}")
    date_text = st.text_input("Request date (YYYY-MM-DD; selects the guideline edition)", key=f"date-{case_id}")
    items = [i.strip() for i in items_text.split("\n") if i.strip()]
    if items != json.loads(case.get("items_json") or "[]") or (date_text.strip() or None) != case.get("request_date"):
        store().update_case(case_id, items_json=items, request_date=date_text.strip() or None)
    return items_text, date_text


def _run_draft(session: ReviewSession, items_text: str, date_text: str) -> None:
    """Queue the draft; the worker drafts item by item and the page takes each item in as it finishes."""
    lines = items_text.strip().split("\n") if items_text.strip() else []
    if not lines:
        st.error("Enter at least one disputed item.")
        return
    if any(not i.strip() for i in lines):
        st.error("An item line is empty; remove empty lines.")
        return
    try:
        date = dt.date.fromisoformat(date_text.strip()) if date_text.strip() else None
    except ValueError:
        st.error(f"Request date {date_text!r} is not YYYY-MM-DD.")
        return
    try:
        session.ws.case(items=[i.strip() for i in lines], request_date=date)  # the intake limits, before queueing
        queue().submit(session.case_id, session.reviewer, [i.strip() for i in lines], date)
    except DrafterError as exc:
        st.error(str(exc))
        return
    st.rerun()


def _job_panel(case_id: str) -> None:
    """Progress of the case's drafting job, refreshed every 2 s while it runs; each finished item reruns the page
    so it appears (and can be edited) while the next one drafts."""
    job = store().latest_job(case_id)
    if job is None:
        return
    if job["status"] in ("failed", "interrupted"):
        st.error(f"The last draft did not finish: {job['error']}")
        return
    if job["status"] == "cancelled":
        st.info("The last draft was cancelled; the items it finished are kept.")
        return
    if st.session_state.pop("draft_ready", False):
        st.success("Draft ready")
    if job["status"] not in store().ACTIVE:
        return

    @st.fragment(run_every=2.0)
    def progress() -> None:
        j = store().job(job["id"])
        items = json.loads(j["items_json"])
        done = [k for k in store().job_results(j["id"])]
        held = st.session_state.get("state")
        taken = len(held.items) + (1 if held and held.summary else 0) if held and held.job_id == j["id"] else 0
        if len(done) > taken or j["status"] not in store().ACTIVE:
            st.rerun(scope="app")
        if j["status"] == "queued":
            ahead = len([x for x in store().jobs(("queued", "running")) if x["id"] < j["id"]])
            st.info(f"Waiting for the model: {ahead} draft(s) ahead in the queue.")
        else:
            now = len([k for k in done if k >= 0])
            what = f"item {now + 1} of {len(items)}: {items[now]}" if now < len(items) else "the case summary"
            st.info(f"Drafting {what}. Finished items appear below as they are ready; you can edit them meanwhile.")
        if j["status"] != "cancelling" and st.button("Cancel drafting", key="cancel_draft"):
            queue().cancel(j["id"])
            st.rerun(scope="app")

    progress()


def _show_newer(exc: StaleWorkingCopy) -> None:
    """Another tab or reviewer saved first: take their text, say so, never write over it."""
    st.session_state.stale_message = str(exc)
    _reload()


def _guarded(action) -> None:
    try:
        action()
    except StaleWorkingCopy as exc:
        _show_newer(exc)
    except CaseApproved as exc:
        st.error(str(exc))


def _highlight(text: str, quote: str) -> str:
    safe = html.escape(text)
    q = html.escape(" ".join(quote.split()))
    flat = " ".join(safe.split())
    return flat.replace(q, f"<mark>{q}</mark>", 1) if q and q in flat else flat


def citation_label(c: dict) -> str:
    """'MTUS CPMTG (2009), Physical medicine: Number of visits, p. 99' as a physician reads a citation."""
    pages = c.get("pages") or []
    # pages 1 and 8 are "pp. 1, 8", not a span over pages the passage does not state
    where = "" if not pages else (f"p. {pages[0]}" if len(pages) == 1 else f"pp. {pages_label(pages)}")
    name = SHORT_GUIDELINE.get(c.get("guideline", ""), c.get("guideline", ""))
    edition = c.get("edition", "")
    source = name if edition and edition in name else f"{name} ({edition})"
    topic = c.get("topic", "")
    if c.get("heading"):
        topic = f"{topic}: {c['heading']}" if topic else c["heading"]
    return ", ".join(x for x in (source, topic, where) if x)


def _verify_and_edit(session: ReviewSession, state: WorkingState) -> None:
    st.subheader("4. Verify and edit")
    if st.session_state.get("stale_message"):
        st.warning(st.session_state.pop("stale_message"))
    saved = st.empty()  # filled after the widgets below have saved this run's edits
    details = st.toggle("Show retrieval details (passage ids, scores, all retrieved passages)", key="details")
    retriever = _drafter(settings().model_dump_json())[0].retriever
    for w in state.warnings:
        st.error(w)
    # keyed: the open tab stays open across reruns (each saved edit reruns the page)
    if state.pending:
        st.caption("Still drafting: " + "; ".join(state.pending))
    tabs = st.tabs([f"{i + 1}. {it.draft['item'][:40]}" for i, it in enumerate(state.items)] + ["Case summary"], key=f"tabs-{state.case_id}")
    for i, (tab, it) in enumerate(zip(tabs, state.items)):
        with tab:
            _item(session, state, i, it, details, retriever)
    with tabs[-1]:
        text = st.text_area("Clinical case summary", height=250, key="summary")
        if text != state.summary:
            _guarded(lambda: session.set_summary(state, text))
    saved.caption(f"All changes saved · version {state.version}")


def _precedents(i: int, d: dict, decision: str) -> None:
    """How IMR decided requests like this one: outcome lines of the item's family in the letter archive, the nearest
    past items with their pages and rationale, and a warning when the decision goes against a strong majority."""
    from drafter.precedents.search import facts_of_draft, find_precedents

    try:
        archive = _archive(settings().model_dump_json())
        if archive.count() == 0:
            st.caption("Precedents: the letter archive is empty. A QA lead adds past letters with "
                       "`imr-drafter letters ingest FOLDER` (README, Precedents).")
            return
        res = find_precedents(d["item"], facts=facts_of_draft(d), archive=archive)
    except DrafterError as exc:
        st.caption(f"Precedents unavailable: {exc}")
        return
    if decision in ("upheld", "overturned") and res.goes_against(decision):
        sm = res.strong_majority
        st.warning(f"This decision ({DECISION_LABEL[decision]}) goes against a strong majority of past IMR decisions: "
                   f"{sm.basis}. Say why this case differs.")
    # the line for the item with its deciding facts when past letters have any, else the item's whole family
    lines = [o for o in (res.outcomes, res.family_outcomes) if o is not None]
    head = next((o for o in lines if o.n), lines[0])
    with st.expander(f"Precedents: {head.text}"):
        for o in lines:
            if o is not head:
                st.caption(("Whole family: " if o is res.family_outcomes else "With this item's deciding facts: ") + o.text)
        for n, p in enumerate(res.precedents[:5]):
            st.markdown(f"**{DECISION_LABEL.get(p.decision, p.decision)}** · {html.escape(p.item)} · "
                        f"{html.escape(p.letter_name)}{' (' + p.letter_date + ')' if p.letter_date else ''}"
                        f"{' · pages ' + p.pages if p.pages else ''}")
            st.caption(p.rationale_excerpt)
            if st.toggle("Show the whole letter", key=f"prec-{i}-{n}"):
                path = Path(p.letter_path)
                st.text(path.read_text(errors="replace")[:20000] if path.suffix == ".txt" and path.exists() else
                        f"{p.letter_path} (open the PDF from the archive folder)")


def _item(session: ReviewSession, state: WorkingState, i: int, it, details: bool, retriever) -> None:
    d = it.draft
    if d["decision"] == "needs_review":
        st.warning("The criteria check could not decide this item: " + " ".join(d["reasons"]))
    basis = {"evidence": "rests on record text", "absent_documentation": "rests on what the records do not document",
             "associated": "follows the request it serves", "none": "no basis"}.get(d.get("basis", "none"), "")
    st.caption(f"Proposed: {DECISION_LABEL[d['decision']]} · confidence {d.get('confidence', 'low')} · {basis}")
    choice = st.selectbox("Decision", DECISIONS, format_func=DECISION_LABEL.get, key=f"dec-{i}")
    if choice != it.decision:
        _guarded(lambda: session.set_decision(state, i, choice))
    st.markdown("**Criteria checklist**")
    for c in d["criteria"]:
        ev = c.get("evidence")
        cite = c.get("citation") or {}
        with st.expander(f"{STATUS_ICON[c['status']]} - {c['criterion']}"):
            if c.get("note"):
                st.write(c["note"])
            if c.get("requested"):
                label = c.get("label_ingredients") or []
                st.caption(f"Requested: {c['requested']}" + (f" · the product's label lists {', '.join(label)}" if label else ""))
            if ev:
                doc = session.ws.dir / ev["document"]
                src = doc.read_text(errors="replace") if doc.suffix in (".txt", ".md") and doc.exists() else ev["quote"]
                window = src[max(0, ev["start"] - 300): ev["end"] + 300]
                st.markdown(f"<small>{html.escape(ev['document'])}</small><br>{_highlight(window, ev['quote'])}", unsafe_allow_html=True)
            if cite:
                st.caption("Guideline: " + citation_label(cite) + (f" · `{cite['chunk_id']}`" if details else ""))
    _precedents(i, d, it.decision)
    st.markdown("**Citations** (uncheck to reject)")
    for c in state.citations(i) + [c for c in d.get("citations", []) if not it.accepted.get(c["chunk_id"], True)]:
        st.session_state.setdefault(f"cite-{i}-{c['chunk_id']}", it.accepted.get(c["chunk_id"], True))  # a passage just added
        ok = st.checkbox(citation_label(c) + (f" · `{c['chunk_id']}`" if details else ""), key=f"cite-{i}-{c['chunk_id']}")
        if ok != it.accepted.get(c["chunk_id"], True):
            _guarded(lambda: session.set_citation(state, i, c["chunk_id"], ok))
    if not state.citations(i) or it.basis_text:
        basis = st.text_input("Guideline you applied (no MTUS passage is cited for this item)", key=f"basis-{i}",
                              placeholder="e.g. ODG Pain Chapter, Insomnia treatment")
        if basis.strip() != it.basis_text:
            _guarded(lambda: session.set_basis_text(state, i, basis))
    governing = {c.get("topic") for c in d.get("citations", [])}
    with st.expander("Guideline passages" + (" (all retrieved)" if details else " (the governing topics)")):
        scores = d.get("retrieved_scores", {})
        for cid in d["retrieved_chunk_ids"]:
            ch = retriever.by_id.get(cid)
            if not ch or not (details or ch.metadata.get("topic") in governing):
                continue
            meta = ch.metadata
            label = citation_label({"guideline": meta.get("guideline", ""), "edition": meta.get("edition", ""), "topic": meta.get("topic", ""),
                                    "heading": passage_heading(meta.get("topic", ""), ch.text), "pages": _pages(meta)})
            st.markdown(f"**{label}**" + (f" · `{cid}` · score {scores[cid]:.4f}" if details and cid in scores else ""))
            st.caption(ch.text[:600])
    q = st.text_input("Search the guidelines to add a passage", key=f"q-{i}")
    if q.strip():
        date = dt.date.fromisoformat(state.request_date) if state.request_date else None
        try:
            for h in retriever.search(q, k=5, date=date):
                hit = h.to_json()
                if st.button("Add " + citation_label(hit) + (f" (score {h.score:.3f})" if details else ""), key=f"add-{i}-{h.chunk_id}"):
                    _guarded(lambda hit=hit: session.add_passage(state, i, hit))
                    st.rerun()
        except DrafterError as exc:
            st.error(str(exc))
    st.markdown("**Rationale**")
    failed = [c for c in d.get("checks", []) if not c["passed"]]
    if d.get("fallback_used") and d.get("degenerate"):
        st.warning("The model's rationale failed its checks, so the template's sentences were used.")
    elif d.get("fallback_used"):
        st.info("The template wrote this rationale from the argument (no usable model text).")
    if failed:
        st.warning("Output checks failed: " + " | ".join(f"{c['name']}: {c['reason']}" for c in failed))
    for note in d.get("notes", []):  # what drafting did to the model's text, and guidance it did not follow
        (st.warning if note.startswith("the reviewer's guidance") else st.caption)(note[0].upper() + note[1:])
    if details:
        st.caption(f"Grounded fraction {d['grounded_fraction']:.2f}; output checks " + ("passed" if not failed else f"{len(failed)} failed"))
        if d.get("dropped_sentences"):
            st.caption("Dropped as ungrounded: " + " | ".join(f"{x['sentence']} ({x['why']})" for x in d["dropped_sentences"]))
    text = st.text_area("Decision rationale", height=200, key=f"rat-{i}")
    if text != it.rationale:
        _guarded(lambda: session.set_rationale(state, i, text))
    guidance = st.text_input("Guidance for Regenerate (optional)", key=f"guide-{i}", max_chars=300,
                             placeholder="e.g. stress the visit limit; mention the UDS from 3/2015")
    if st.button("Regenerate this item", key=f"regen-{i}"):
        _, lock = _drafter(settings().model_dump_json())
        with lock, st.spinner("Drafting this item again..."):
            _guarded(lambda: session.regenerate(state, i, guidance))
        _reload()


def _pages(meta: dict) -> list[int]:
    label = str(meta.get("pages_label") or "")
    nums = [int(x) for x in label.replace("-", ",").split(",") if x.strip().isdigit()]
    return [nums[0], nums[-1]] if len(nums) > 1 else nums


def _approve(session: ReviewSession, state: WorkingState) -> None:
    st.subheader("5. Letter, signature and approval")
    st.markdown("**Claim header** (read from the case files; correct as needed)")
    cols = st.columns(3)
    for n, (field, label) in enumerate(HEADER_FIELDS.items()):
        value = cols[n % 3].text_input(label, key=f"hdr-{field}")
        if value.strip() != state.header.get(field, ""):
            _guarded(lambda field=field, value=value: session.set_header(state, field, value))
    basis = st.text_input("Guideline the Claims Administrator relied on (from the UR letter)", key="claims_basis", placeholder="e.g. MTUS Chronic Pain Medical Treatment Guidelines, page 99")
    if basis.strip() != state.claims_basis:
        _guarded(lambda: session.set_claims_basis(state, basis))
    letter, problems = session.preview(state)
    with st.expander("Preview the letter", expanded=False):
        st.text(letter)
    if problems:
        st.warning("Before signing:\n" + "\n".join(f"- {p}" for p in problems))
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("DOCX (draft)", docx_bytes(letter), file_name=f"imr-draft-{state.case_id}.docx", key="dl-docx")
    c2.download_button("PDF (draft)", pdf_bytes(letter), file_name=f"imr-draft-{state.case_id}.pdf", key="dl-pdf")
    c3.download_button("Text (draft)", letter.encode("utf-8"), file_name=f"imr-draft-{state.case_id}.txt", key="dl-txt")
    if c4.button("Approve and sign", key="approve", type="primary"):
        try:
            session.approve(state)
            st.session_state.pop("state", None)
            st.rerun()
        except StaleWorkingCopy as exc:
            _show_newer(exc)
        except DrafterError as exc:
            st.error(str(exc))


def _read_only(case_id: str, state: WorkingState) -> None:
    approvals = store().approvals(case_id)
    letter = approvals[-1]["final_text"] if approvals else None
    if letter:
        st.subheader("Signed letter")
        c1, c2, c3 = st.columns(3)
        c1.download_button("DOCX", docx_bytes(letter), file_name=f"imr-{case_id}.docx", key="dl-docx")
        c2.download_button("PDF", pdf_bytes(letter), file_name=f"imr-{case_id}.pdf", key="dl-pdf")
        c3.download_button("Text", letter.encode("utf-8"), file_name=f"imr-{case_id}.txt", key="dl-txt")
        st.text(letter)
    else:
        st.subheader("Working copy (read-only)")
        for n, it in enumerate(state.items, 1):
            st.markdown(f"**{n}. {it.draft['item']}**: {DECISION_LABEL[it.decision]}")
            st.write(it.rationale)


def _timeline(case_id: str) -> None:
    # a Markdown table: st.dataframe needs pyarrow built for NumPy 2, and medspaCy keeps NumPy on 1.26
    with st.expander("Audit trail"):
        rows = [f"| {_when(e['when'])} | {_cell(e['who'])} | {_cell(e['what'])} |" for e in store().timeline(case_id)]
        st.markdown("\n".join(["| When | Who | What |", "|---|---|---|", *rows]))


def _cell(text: str) -> str:
    return html.escape(str(text)).replace("|", "\\|")


# -- QA and prompt-engineer pages --------------------------------------------------------------------
def _under_home(sub: str) -> Path:
    path = settings().home / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def evals_page() -> None:
    user = _page("Evaluation runs")
    if user is None:
        return
    if not user.can_see_evals:
        st.info("Evaluation runs are for QA leads and admins.")
        return
    root = _under_home("evals")
    runs = sorted([p for p in root.iterdir() if (p / "metrics.json").exists()], reverse=True)
    if not runs:
        st.info(f"No runs yet in {root}. Start one with `imr-drafter eval LETTERS_DIR --out {root}/NAME` or from the Prompts page.")
        return
    pick = st.selectbox("Run", [r.name for r in runs], key="run")
    run = root / pick
    metrics = json.loads((run / "metrics.json").read_text())
    st.markdown((run / "report.md").read_text())
    if (run / "report.html").exists():
        with st.expander("Plots (report.html)"):
            import streamlit.components.v1 as components

            components.html((run / "report.html").read_text(), height=900, scrolling=True)
    st.subheader("Per-item differences from the letter")
    rows = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines() if x.strip()]
    full = [r for r in rows if r["system"] == "full"] or rows
    pick_item = st.selectbox("Item", range(len(full)), format_func=lambda k: f"{Path(full[k]['letter']).name}: {full[k]['gold']['item']}", key="item")
    r = full[pick_item]
    a, b = st.columns(2)
    a.markdown(f"**Letter** ({r['gold']['decision']})")
    a.write(r["gold"]["rationale"])
    b.markdown(f"**Draft** ({r['draft']['decision']})")
    b.write(r["draft"]["rationale"])
    st.json({k: v for k, v in r["metrics"].items()})
    other = st.selectbox("Compare with", [""] + [x.name for x in runs if x.name != pick], key="other")
    if other:
        from drafter.evaluation.compare import compare_runs, format_comparison

        try:
            st.code(format_comparison(compare_runs(root / other, run)))
        except DrafterError as exc:
            st.error(str(exc))
    st.caption(f"provenance: {json.dumps(metrics['provenance']['run'])}")


def _prompt_folders() -> dict[str, Path]:
    """The bundled prompts and any versions a prompt engineer keeps in DRAFTER_HOME/prompts/<name>/."""
    folders = {"bundled (prompts/)": settings().prompts_dir}
    for p in sorted(_under_home("prompts").iterdir()):
        if p.is_dir():
            folders[f"DRAFTER_HOME/prompts/{p.name}"] = p
    return folders


def _letter_folders() -> dict[str, Path]:
    folders = {"sample letters (evals/letters)": REPO_ROOT / "evals" / "letters"}
    for p in sorted(_under_home("letters").iterdir()):
        if p.is_dir():
            folders[f"DRAFTER_HOME/letters/{p.name}"] = p
    return folders


def prompts_page() -> None:
    from drafter.prompts import PromptLibrary

    user = _page("Prompts")
    if user is None:
        return
    folders = _prompt_folders()
    choice = st.selectbox("Prompt set", list(folders), key="pdir")
    folder = folders[choice]
    try:
        lib = PromptLibrary(folder)
    except DrafterError as exc:
        st.error(str(exc))
        return
    st.caption(f"Version {lib.version}")
    for t in lib.templates.values():
        with st.expander(f"{t.name} (version {t.version}) - variables: {', '.join(sorted(t.variables)) or 'none'}"):
            st.code(t.source, language="jinja2")
    _model_log(user)
    if not user.can_see_evals:
        return
    st.subheader("Run a small eval with these prompts")
    letters = _letter_folders()
    which = st.selectbox("Letters", list(letters), key="eval_letters")
    limit = st.number_input("Letters", min_value=1, max_value=50, value=3, key="eval_limit")
    if st.button("Run eval sample", key="run_eval"):
        from drafter.evaluation.runner import run_eval

        s = settings()
        s.prompts_dir = folder
        out = _under_home("evals") / f"{time.strftime('%Y%m%d-%H%M%S')}-prompts"
        _, lock = _drafter(s.model_dump_json())
        with lock, st.spinner(f"Scoring {limit} letters..."):
            m = run_eval(letters[which], out, s, systems=("full", "always_uphold"), limit=int(limit), progress=False)
        st.success(f"Run saved in {out}")
        st.json({k: v.get("value") if isinstance(v, dict) else v for k, v in m["full"].items() if k != "confusion"})
    _compare_runs_panel()


_DIFF_STYLE = ("<style>.promptdiff del{background:#ffd7d5;text-decoration:line-through}"
               ".promptdiff ins{background:#ccf0d6;text-decoration:none}</style>")


def _text_block(text: str) -> None:
    """A rationale as escaped HTML (not markdown: a '$' or '*' in a draft must not change how it reads)."""
    st.html(f"<div class='promptdiff'>{html.escape(text)}</div>")


def _compare_runs_panel() -> None:
    """Two eval runs from DRAFTER_HOME/evals on the same items: prompt version A -> B, the template diff, the
    metric deltas, and per item the letter's rationale beside both drafts with the changed words marked."""
    from drafter.evaluation.compare import compare_runs, highlight_html, run_prompt_version, template_diff, text_changes

    st.subheader("Compare two runs")
    root = _under_home("evals")
    runs = sorted([p.name for p in root.iterdir() if (p / "results.jsonl").exists()], reverse=True)
    if len(runs) < 2:
        st.caption(f"Two eval runs in {root} are needed (run the eval above once per prompt version).")
        return
    left, right = st.columns(2)
    name_a = left.selectbox("Run A (before)", runs, index=1, key="cmp_a")
    name_b = right.selectbox("Run B (after)", runs, index=0, key="cmp_b")
    if name_a == name_b:
        st.info("Pick two different runs.")
        return
    run_a, run_b = root / name_a, root / name_b  # names listed from root only: the comparison stays in DRAFTER_HOME/evals
    st.markdown(f"**Prompt version** `{run_prompt_version(run_a)}` -> `{run_prompt_version(run_b)}`")
    try:
        td = template_diff(run_a, run_b)
    except DrafterError as exc:
        st.warning(str(exc))
    else:
        if not td.changed:
            st.caption("Both runs used the same templates.")
        for t in td.changed:
            st.markdown(f"**{t.name}.j2**: version {t.version_a or '(absent)'} -> {t.version_b or '(absent)'}")
            st.code(t.diff, language="diff")
    try:
        summary = compare_runs(run_a, run_b)
        changes = text_changes(run_a, run_b)
    except DrafterError as exc:
        st.error(str(exc))
        return
    st.markdown(f"**Metric deltas** over {summary['items']} items of system `{summary['system']}` (B - A, paired bootstrap 95% CI)")
    rows = [f"| {_cell(m)} | {v['a']:.3f} | {v['b']:.3f} | {v['delta']:+.3f} | [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}] |"
            for m, v in summary["metrics"].items()]
    st.markdown("\n".join(["| Metric | A | B | B - A | 95% CI |", "|---|---:|---:|---:|---|", *rows]))
    moved = [c for c in changes if c.decision_changed or c.text_changed]
    st.caption(f"{sum(c.decision_changed for c in changes)} decision(s) and {sum(c.text_changed for c in changes)} rationale(s) "
               f"changed among {len(changes)} items.")
    shown = moved if st.checkbox("Only items whose decision or text changed", value=True, key="cmp_only") else changes
    st.html(_DIFF_STYLE)
    for c in shown:
        what = "DECISION CHANGED" if c.decision_changed else ("text changed" if c.text_changed else "same")
        with st.expander(f"{Path(c.letter).name} #{c.item_index} {c.item}: {c.decision_a} -> {c.decision_b} ({what})"):
            st.markdown(f"**The letter's rationale** ({c.letter_decision})")
            _text_block(c.letter_rationale)
            col_a, col_b = st.columns(2)
            for box, side, decision, recall, rouge in ((col_a, "a", c.decision_a, c.page_recall_a, c.rouge_l_a),
                                                       (col_b, "b", c.decision_b, c.page_recall_b, c.rouge_l_b)):
                with box:
                    st.markdown(f"**Draft {side.upper()}** ({decision})")
                    st.caption(f"page recall {_score(recall)}, ROUGE-L {_score(rouge)}")
                    st.html(f"<div class='promptdiff'>{highlight_html(c.words, side)}</div>")
            st.caption(f"Decision {c.decision_a} -> {c.decision_b}; page recall {_signed(c.page_recall_delta)}, "
                       f"ROUGE-L {_signed(c.rouge_l_delta)}")


def _score(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2f}"


def _model_log(user: Identity) -> None:
    """What the model saw and said for each item of the open case: the rendered prompt, every raw reply with what
    the checks found wrong with it, and the checks on the final text."""
    st.subheader("What the model saw (the open case)")
    case_id = _current_case(user)
    saved = store().working(case_id) if case_id else None
    if not saved or not saved.get("items"):
        st.caption("Open and draft a case on the Draft page to see its rendered prompts and the model's raw replies here.")
        return
    for it in saved["items"]:
        d = it.get("draft") or {}
        log = d.get("model_log") or {}
        attempts = log.get("attempts") or []
        label = f"{d.get('item', '')}: {len(attempts)} model attempt(s)" + (", template text used" if d.get("fallback_used") else "")
        with st.expander(label):
            st.markdown("**Rendered prompt**")
            st.code(log.get("prompt") or "(no model call: the template wrote this item)", language="text")
            for n, a in enumerate(attempts, 1):
                verdict = "; ".join(a.get("problems") or []) or "passed the checks and was used"
                st.markdown(f"**Attempt {n}** ({'re-ask, ' + str(a['sampling']) if a.get('sampling') else 'first ask'}): {verdict}")
                st.code(a.get("raw") or "", language="json")
            failed = [c for c in d.get("checks", []) if not c.get("passed")]
            st.caption("Output checks on the final text: " + ("all passed" if not failed else
                       " | ".join(f"{c['name']}: {c['reason']}" for c in failed)))


def settings_page() -> None:
    user = _page("Settings")
    if user is None:
        return
    if not user.can_admin:
        st.info("Settings are for admins.")
        return
    s = settings()
    backend = st.selectbox("Backend", ["llamacpp", "openai", "fake"], index=["llamacpp", "openai", "fake"].index(s.llm.backend), key="backend")
    model = st.text_input("Model", value=s.llm.model, key="model")
    allowed = s.auth.llm_url_allowlist
    base_url = None
    if backend == "openai":
        if not allowed:
            st.error("No model server is allowed: an admin lists them in DRAFTER_AUTH__LLM_URL_ALLOWLIST (README).")
        else:
            base_url = st.selectbox("Model server (from the allowlist)", allowed,
                                    index=allowed.index(s.llm.base_url) if s.llm.base_url in allowed else 0, key="base_url")
    threads = st.number_input("llama.cpp threads", min_value=1, max_value=16, value=s.llm.threads, key="threads")
    if backend == "llamacpp":
        st.success("Embedded model: case text stays on this machine.")
    elif backend == "openai":
        st.warning("Case text will be sent to the model server above.")
    if st.button("Apply", key="apply", disabled=backend == "openai" and not base_url):
        s.llm.backend, s.llm.model, s.llm.base_url, s.llm.threads = backend, model, base_url, int(threads)
        st.session_state.settings_json = s.model_dump_json()
        st.success(f"Active backend: {backend}")


def main() -> None:
    st.set_page_config(page_title="IMR Drafter", layout="wide")
    pages = [st.Page(draft_page, title="Draft", url_path="draft", default=True), st.Page(evals_page, title="Evals", url_path="evals"),
             st.Page(prompts_page, title="Prompts", url_path="prompts"), st.Page(settings_page, title="Settings", url_path="settings")]
    st.navigation(pages).run()
