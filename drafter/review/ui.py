"""Streamlit pages of the reviewer app. Logic lives in drafter.review.session / store; this module only
lays out widgets and calls it."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import threading
import time
from pathlib import Path

import streamlit as st

from drafter.argument import pages_label, source_label
from drafter.errors import DrafterError
from drafter.intake import IntakeError
from drafter.review.session import ReviewSession, WorkingState, Workspace, docx_bytes, pdf_bytes, suggestions
from drafter.review.store import AuditStore
from drafter.settings import REPO_ROOT, Settings

SAMPLE_CASES = REPO_ROOT / "evals" / "cases"
STATUS_ICON = {"met": "MET", "not_met": "NOT MET", "unknown": "UNKNOWN"}
DECISIONS = ["upheld", "overturned", "needs_review"]


# -- shared resources (one per server process, shared by every session) -------------------------------
@st.cache_resource(show_spinner="Loading the guideline index and the model...")
def _drafter(key: str):
    from drafter.chain import Drafter

    settings = Settings.model_validate_json(key)
    return Drafter(settings), threading.Lock()


@st.cache_resource
def _store(path: str) -> AuditStore:
    return AuditStore(Path(path))


def settings() -> Settings:
    if "settings_json" not in st.session_state:
        st.session_state.settings_json = Settings().model_dump_json()
    return Settings.model_validate_json(st.session_state.settings_json)


def store() -> AuditStore:
    return _store(str(settings().home / "audit.db"))


def reviewer() -> str:
    return st.session_state.get("reviewer") or os.environ.get("DRAFTER_REVIEWER", "reviewer")


def sidebar() -> None:
    s = settings()
    st.sidebar.text_input("Reviewer", key="reviewer", value=reviewer())
    backend = s.llm.backend
    where = "embedded model: case text stays on this machine" if backend == "llamacpp" else (
        f"server {s.llm.base_url}: case text is sent there" if backend == "openai" else "fake model (testing)")
    st.sidebar.caption(f"Backend: **{backend}** ({where})")


# -- Draft page ---------------------------------------------------------------------------------------
def _current_case() -> str | None:
    case_id = st.query_params.get("case") or st.session_state.get("case_id")
    if case_id and store().case(case_id) and store().case(case_id)["reviewer"] == reviewer():
        st.session_state.case_id = case_id
        return case_id
    return None


def _open_case(case_id: str) -> None:
    st.session_state.case_id = case_id
    st.query_params["case"] = case_id
    st.session_state.pop("state", None)


def draft_page() -> None:
    sidebar()
    st.title("Draft an IMR determination")
    s, db = settings(), store()
    mine = db.cases(reviewer())
    cols = st.columns([3, 1])
    labels = {c["id"]: f"{c['name']} ({c['status']}, {dt.datetime.fromtimestamp(c['created']):%Y-%m-%d %H:%M})" for c in mine}
    case_id = _current_case()
    if mine:
        pick = cols[0].selectbox("Your cases", list(labels), format_func=labels.get, index=list(labels).index(case_id) if case_id in labels else 0, key="pick")
        if pick != case_id:
            _open_case(pick)
            case_id = pick
    name = cols[1].text_input("New case name", value="", key="new_name")
    if cols[1].button("New case", key="new_case"):
        _open_case(db.create_case(reviewer(), name or f"Case {len(mine) + 1}"))
        st.rerun()
    if not case_id:
        st.info("Create a case to start: upload or paste the progress reports, the RFA and the UR letter.")
        return

    ws = Workspace(s, case_id)
    st.subheader("1. Case intake")
    uploads = st.file_uploader("Case files (PDF, DOCX, TXT)", type=["pdf", "docx", "txt", "md"], accept_multiple_files=True, key=f"up-{case_id}")
    for up in uploads or []:
        seen = st.session_state.setdefault("seen_uploads", set())
        tag = (case_id, up.name, up.size)
        if tag not in seen:
            report = ws.add(up.name, up.getvalue())
            seen.add(tag)
            st.session_state.setdefault("file_reports", {})[up.name] = report.model_dump()
    with st.expander("Paste text instead"):
        pasted = st.text_area("Paste a report or letter", key=f"paste-{case_id}", height=150)
        if st.button("Add pasted text", key="add_paste"):
            report = ws.add_text(pasted, f"pasted-{int(time.time())}.txt")
            st.session_state.setdefault("file_reports", {})[report.name] = report.model_dump()
    sample = st.selectbox("Or load a sample case", [""] + sorted(p.name for p in SAMPLE_CASES.glob("case-*")), key="sample")
    if sample and st.button("Load sample", key="load_sample"):
        for f in sorted((SAMPLE_CASES / sample).iterdir()):
            if f.name != "expected.json":
                st.session_state.setdefault("file_reports", {})[f.name] = ws.add(f.name, f.read_bytes()).model_dump()
    for name, rep in st.session_state.get("file_reports", {}).items():
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

    st.subheader("2. Disputed items and request date")
    signature = tuple(ws.files())
    if st.session_state.get(f"sig-{case_id}") != signature:  # new files: offer what they say, once
        found_items, found_date = suggestions(ws)
        st.session_state[f"items-{case_id}"] = "\n".join(found_items)
        st.session_state[f"date-{case_id}"] = found_date or ""
        st.session_state[f"sig-{case_id}"] = signature
    items_text = st.text_area("One disputed item per line (found in the UR letter; edit as needed)", key=f"items-{case_id}")
    date_text = st.text_input("Request date (YYYY-MM-DD; selects the guideline edition)", key=f"date-{case_id}")

    st.subheader("3. Draft")
    session = ReviewSession(_drafter(s.model_dump_json())[0], db, reviewer(), case_id)
    busy = st.session_state.get("busy", False)
    st.caption("A running draft can be cancelled with Stop (top right); uploaded files and every saved edit stay in the audit database.")
    if st.button("Draft all items", key="draft", disabled=busy or not ws.files(), type="primary"):
        _run_draft(session, items_text, date_text)
    state: WorkingState | None = st.session_state.get("state") or session.load()
    if state is None:
        return
    st.session_state.state = state
    _verify_and_edit(session, state)


def _run_draft(session: ReviewSession, items_text: str, date_text: str) -> None:
    items = [i for i in items_text.split("\n")]
    items = [i for i in items if i.strip()] if items_text.strip() else []
    if not items:
        st.error("Enter at least one disputed item.")
        return
    if any(not i.strip() for i in items_text.strip().split("\n")):
        st.error("An item line is empty; remove empty lines.")
        return
    try:
        date = dt.date.fromisoformat(date_text) if date_text.strip() else None
    except ValueError:
        st.error(f"Request date {date_text!r} is not YYYY-MM-DD.")
        return
    drafter, lock = _drafter(settings().model_dump_json())
    if not lock.acquire(blocking=False):
        st.warning("Another draft is running on this server; this one starts when it ends.")
        lock.acquire()
    st.session_state.busy = True
    try:
        with st.status("Drafting...", expanded=True) as status:
            def progress(n: int, total: int, what: str) -> None:
                status.update(label=f"Drafting {min(n + 1, total)} of {total}: {what}")
                st.write(f"{'Summary' if n == total else f'Item {n + 1}'}: {what}")

            st.session_state.state = session.draft(items, date, progress)
            status.update(label="Draft ready", state="complete")
    except DrafterError as exc:
        st.error(str(exc))
    finally:
        st.session_state.busy = False
        lock.release()


def _highlight(text: str, quote: str) -> str:
    safe = html.escape(text)
    q = html.escape(" ".join(quote.split()))
    flat = " ".join(safe.split())
    return flat.replace(q, f"<mark>{q}</mark>", 1) if q and q in flat else flat


def _verify_and_edit(session: ReviewSession, state: WorkingState) -> None:
    st.subheader("4. Verify and edit")
    retriever = _drafter(settings().model_dump_json())[0].retriever
    for w in state.warnings:
        st.error(w)
    tabs = st.tabs([f"{i + 1}. {it.draft['item'][:40]}" for i, it in enumerate(state.items)] + ["Case summary"])
    for i, (tab, it) in enumerate(zip(tabs, state.items)):
        with tab:
            d = it.draft
            if d["decision"] == "needs_review":
                st.warning("The criteria check could not decide this item: " + " ".join(d["reasons"]))
            if d["fallback_used"]:
                st.info("The model's rationale was unusable, so the deterministic template wrote it.")
            basis = {"evidence": "rests on record text", "absent_documentation": "rests on what the records do not document",
                     "none": "no basis"}.get(d.get("basis", "none"), "")
            st.caption(f"Proposed: {d['decision'].replace('_', ' ')} · confidence {d.get('confidence', 'low')} · {basis}")
            choice = st.selectbox("Decision", DECISIONS, index=DECISIONS.index(it.decision), key=f"dec-{i}")
            if choice != it.decision:
                session.set_decision(state, i, choice)
            st.markdown("**Criteria checklist**")
            for c in d["criteria"]:
                ev = c.get("evidence")
                cite = c.get("citation") or {}
                line = f"{STATUS_ICON[c['status']]} - {c['criterion']}"
                with st.expander(line):
                    if c.get("note"):
                        st.write(c["note"])
                    if ev:
                        doc = session.ws.dir / ev["document"]
                        src = doc.read_text(errors="replace") if doc.suffix in (".txt", ".md") and doc.exists() else ev["quote"]
                        window = src[max(0, ev["start"] - 300): ev["end"] + 300]
                        st.markdown(f"<small>{ev['document']}</small><br>{_highlight(window, ev['quote'])}", unsafe_allow_html=True)
                    if cite:
                        st.caption(f"Guideline passage: `{cite['chunk_id']}` ({cite['topic']}, pages {cite.get('pages')})")
            st.markdown("**Citations** (uncheck to reject)")
            for c in state.citations(i) + [c for c in d.get("citations", []) if not it.accepted.get(c["chunk_id"], True)]:
                where = pages_label(c.get("pages") or [])
                ok = st.checkbox(f"{source_label(c['guideline'], c['edition'])}, {c['topic']}" + (f", {where}" if where else ""),
                                 value=it.accepted.get(c["chunk_id"], True), key=f"cite-{i}-{c['chunk_id']}")
                if ok != it.accepted.get(c["chunk_id"], True):
                    session.set_citation(state, i, c["chunk_id"], ok)
            with st.expander("Retrieved passages"):
                scores = d.get("retrieved_scores", {})
                for cid in d["retrieved_chunk_ids"]:
                    ch = retriever.by_id.get(cid)
                    if ch:
                        score = f", score {scores[cid]:.4f}" if cid in scores else ""
                        st.markdown(f"`{cid}` - {ch.metadata.get('topic')} (pages {ch.metadata.get('pages_label')}{score})")
                        st.caption(ch.text[:600])
            q = st.text_input("Search the guidelines to add a passage", key=f"q-{i}")
            if q.strip():
                date = dt.date.fromisoformat(state.request_date) if state.request_date else None
                try:
                    for h in retriever.search(q, k=5, date=date):
                        if st.button(f"Add `{h.chunk_id}` ({h.topic}, p. {h.pages_label}) score {h.score:.3f}", key=f"add-{i}-{h.chunk_id}"):
                            session.add_passage(state, i, h.to_json())
                            st.rerun()
                except DrafterError as exc:
                    st.error(str(exc))
            st.markdown("**Rationale**")
            if d.get("dropped_sentences"):
                st.caption("Dropped as ungrounded: " + " | ".join(f"{x['sentence']} ({x['why']})" for x in d["dropped_sentences"]))
            failed = [c for c in d.get("checks", []) if not c["passed"]]
            if d.get("fallback_used") and d.get("degenerate"):
                st.warning("The model's rationale failed its checks and was replaced by the template's sentences: "
                           + " | ".join(n for n in d.get("notes", []) if n.startswith("model attempt")))
            if failed:
                st.warning("Output checks failed: " + " | ".join(f"{c['name']}: {c['reason']}" for c in failed))
            st.caption(f"Grounded fraction {d['grounded_fraction']:.2f} · output checks "
                       + ("passed" if not failed else f"{len(failed)} failed") + (" · template text" if d.get("fallback_used") else ""))
            text = st.text_area("Decision rationale", value=it.rationale, height=200, key=f"rat-{i}")
            if text != it.rationale:
                session.set_rationale(state, i, text)
            guidance = st.text_input("Guidance for Regenerate (optional)", key=f"guide-{i}", max_chars=300,
                                     placeholder="e.g. stress the visit limit; mention the UDS from 3/2015")
            if st.button("Regenerate this item", key=f"regen-{i}"):
                drafter, lock = _drafter(settings().model_dump_json())
                with lock, st.spinner("Drafting this item again..."):
                    session.regenerate(state, i, guidance)
                st.rerun()
    with tabs[-1]:
        text = st.text_area("Clinical case summary", value=state.summary, height=250, key="summary")
        if text != state.summary:
            session.set_summary(state, text)

    st.subheader("5. Approve and export")
    letter = session.letter(state)
    with st.expander("Preview the letter", expanded=False):
        st.text(letter)
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("DOCX", docx_bytes(letter), file_name=f"imr-draft-{state.case_id}.docx", key="dl-docx")
    c2.download_button("PDF", pdf_bytes(letter), file_name=f"imr-draft-{state.case_id}.pdf", key="dl-pdf")
    c3.download_button("Text", letter.encode("utf-8"), file_name=f"imr-draft-{state.case_id}.txt", key="dl-txt")
    if c4.button("Approve", key="approve", type="primary"):
        try:
            session.approve(state)
            st.success("Approved and recorded in the audit trail.")
        except DrafterError as exc:
            st.error(str(exc))
    with st.expander("Audit trail"):
        st.json({"edits": store().edits(state.case_id), "approvals": [{k: v for k, v in a.items() if k != "final_json"} for a in store().approvals(state.case_id)]})


# -- QA and prompt-engineer pages --------------------------------------------------------------------
def evals_page() -> None:
    sidebar()
    st.title("Evaluation runs")
    root = Path(st.text_input("Runs folder", value=str(settings().home / "evals"), key="runs_root"))
    runs = sorted([p for p in root.glob("*") if (p / "metrics.json").exists()], reverse=True) if root.exists() else []
    if not runs:
        st.info(f"No runs in {root}. Start one with `imr-drafter eval LETTERS_DIR --out {root}/NAME` or from the Prompts page.")
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


def prompts_page() -> None:
    sidebar()
    from drafter.prompts import PromptLibrary

    st.title("Prompts")
    folder = Path(st.text_input("Prompts folder", value=str(settings().prompts_dir), key="pdir"))
    try:
        lib = PromptLibrary(folder)
    except DrafterError as exc:
        st.error(str(exc))
        return
    st.caption(f"Version {lib.version}")
    for t in lib.templates.values():
        with st.expander(f"{t.name} (version {t.version}) - variables: {', '.join(sorted(t.variables)) or 'none'}"):
            st.code(t.source, language="jinja2")
    _model_log()
    st.subheader("Run a small eval with these prompts")
    letters = st.text_input("Letters folder", value=str(REPO_ROOT / "evals" / "letters"), key="eval_letters")
    limit = st.number_input("Letters", min_value=1, max_value=50, value=3, key="eval_limit")
    if st.button("Run eval sample", key="run_eval"):
        from drafter.evaluation.runner import run_eval

        s = settings()
        s.prompts_dir = folder
        out = s.home / "evals" / f"{time.strftime('%Y%m%d-%H%M%S')}-prompts"
        with st.spinner(f"Scoring {limit} letters..."):
            m = run_eval(Path(letters), out, s, systems=("full", "always_uphold"), limit=int(limit), progress=False)
        st.success(f"Run saved in {out}")
        st.json({k: v.get("value") if isinstance(v, dict) else v for k, v in m["full"].items() if k != "confusion"})


def _model_log() -> None:
    """What the model saw and said for each item of the open case: the rendered prompt, every raw reply with what
    the checks found wrong with it, and the checks on the final text."""
    st.subheader("What the model saw (the open case)")
    case_id = _current_case()
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
    sidebar()
    st.title("Settings")
    s = settings()
    backend = st.selectbox("Backend", ["llamacpp", "openai", "fake"], index=["llamacpp", "openai", "fake"].index(s.llm.backend), key="backend")
    model = st.text_input("Model", value=s.llm.model, key="model")
    base_url = st.text_input("Server URL (OpenAI-compatible; only for the openai backend)", value=s.llm.base_url or "", key="base_url")
    threads = st.number_input("llama.cpp threads", min_value=1, max_value=16, value=s.llm.threads, key="threads")
    if backend == "llamacpp":
        st.success("Embedded model: case text stays on this machine.")
    elif backend == "openai":
        st.warning("Case text will be sent to the server at the URL above.")
    if st.button("Apply", key="apply"):
        s.llm.backend, s.llm.model, s.llm.base_url, s.llm.threads = backend, model, base_url or None, int(threads)
        st.session_state.settings_json = s.model_dump_json()
        st.success(f"Active backend: {backend}")


def main() -> None:
    st.set_page_config(page_title="IMR Drafter", layout="wide")
    pages = [st.Page(draft_page, title="Draft", url_path="draft", default=True), st.Page(evals_page, title="Evals", url_path="evals"),
             st.Page(prompts_page, title="Prompts", url_path="prompts"), st.Page(settings_page, title="Settings", url_path="settings")]
    st.navigation(pages).run()
