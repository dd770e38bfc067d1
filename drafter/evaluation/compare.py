"""`imr-drafter eval compare RUN_A RUN_B`: per-metric deltas with paired bootstrap confidence intervals,
the items whose decision or citations changed (what a template change did), and with `--text` (and on the
app's Prompts page) each item's two rationales with a word diff, and the diff of the templates behind them."""

from __future__ import annotations

import difflib
import html
import json
import random
import re
import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from drafter.errors import DrafterError
from drafter.evaluation.scoring import iter_rows
from drafter.prompts import _VERSION

METRICS = ["decision", "citation_page_recall", "citation_topic_recall", "rouge_l", "embedding_cosine", "key_fact_recall",
           "grounded_fraction", "latency_s"]


def _load(run: Path, system: str) -> dict[tuple[str, int], dict]:
    path = Path(run) / "results.jsonl"
    if not path.exists():
        raise DrafterError(f"{run}: no results.jsonl; give a RUN_DIR written by `imr-drafter eval`.")
    rows = {(r["letter"], r["item_index"]): r for r in iter_rows(path) if r.get("system") == system}
    return rows


def bootstrap_ci(deltas: list[float], n: int = 2000, seed: int = 13) -> tuple[float, float]:
    """95% percentile interval of the mean of paired deltas."""
    if not deltas:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(deltas, k=len(deltas))) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def compare_runs(run_a: Path, run_b: Path, system: str = "full") -> dict[str, Any]:
    a, b = _load(run_a, system), _load(run_b, system)
    common = sorted(set(a) & set(b))
    if not common:
        raise DrafterError(f"The runs share no {system!r} items; compare runs over the same letters.")
    out: dict[str, Any] = {"items": len(common), "system": system, "metrics": {}, "changed": []}
    for m in METRICS:
        pairs = [(a[k]["metrics"].get(m, {}).get("value"), b[k]["metrics"].get(m, {}).get("value")) for k in common]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if not pairs:
            continue
        deltas = [y - x for x, y in pairs]
        lo, hi = bootstrap_ci(deltas)
        out["metrics"][m] = {"a": statistics.fmean(x for x, _ in pairs), "b": statistics.fmean(y for _, y in pairs),
                             "delta": statistics.fmean(deltas), "ci95": [lo, hi], "n": len(pairs)}
    for k in common:
        da, db = a[k]["draft"], b[k]["draft"]
        ca = sorted(c["chunk_id"] for c in da.get("citations", []))
        cb = sorted(c["chunk_id"] for c in db.get("citations", []))
        if da["decision"] != db["decision"] or ca != cb:
            out["changed"].append({"letter": k[0], "item_index": k[1], "item": a[k]["gold"]["item"], "letter_decision": a[k]["gold"]["decision"],
                                   "decision": [da["decision"], db["decision"]], "citations": [ca, cb]})
    return out


def format_comparison(c: dict[str, Any]) -> str:
    lines = [f"{c['items']} items of system {c['system']!r} in both runs", f"{'metric':<24}{'A':>9}{'B':>9}{'B-A':>9}   95% CI"]
    for m, v in c["metrics"].items():
        lines.append(f"{m:<24}{v['a']:>9.3f}{v['b']:>9.3f}{v['delta']:>+9.3f}   [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]")
    lines.append(f"\n{len(c['changed'])} item(s) changed decision or citations:")
    for ch in c["changed"][:50]:
        lines.append(f"- {Path(ch['letter']).name} #{ch['item_index']} {ch['item']!r} (letter: {ch['letter_decision']}): "
                     f"decision {ch['decision'][0]} -> {ch['decision'][1]}; citations {ch['citations'][0]} -> {ch['citations'][1]}")
    return "\n".join(lines)


# -- what the text did: per-item rationales side by side, and the template changes behind them --------------
class WordOp(BaseModel):
    """A run of words the two drafts share (equal), or that only A (delete) or only B (insert) has."""

    op: Literal["equal", "delete", "insert"]
    text: str


class TextChange(BaseModel):
    """One item both runs drafted: the letter's rationale, both drafts, and what changed between them."""

    letter: str
    item_index: int
    item: str
    letter_decision: str
    letter_rationale: str
    decision_a: str
    decision_b: str
    rationale_a: str
    rationale_b: str
    page_recall_a: float | None = None
    page_recall_b: float | None = None
    rouge_l_a: float | None = None
    rouge_l_b: float | None = None
    words: list[WordOp] = Field(default_factory=list)

    @property
    def decision_changed(self) -> bool:
        return self.decision_a != self.decision_b

    @property
    def text_changed(self) -> bool:
        return self.rationale_a != self.rationale_b

    @property
    def page_recall_delta(self) -> float | None:
        return _delta(self.page_recall_a, self.page_recall_b)

    @property
    def rouge_l_delta(self) -> float | None:
        return _delta(self.rouge_l_a, self.rouge_l_b)


class TemplateChange(BaseModel):
    """One template as the two runs used it: its version header in each and a unified diff (empty: unchanged)."""

    name: str
    version_a: str | None = Field(None, description="None: the template is not in run A's snapshot")
    version_b: str | None = None
    diff: str = ""


class TemplateDiff(BaseModel):
    prompt_version_a: str
    prompt_version_b: str
    templates: list[TemplateChange]

    @property
    def changed(self) -> list[TemplateChange]:
        return [t for t in self.templates if t.diff]


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _metric(row: dict, name: str) -> float | None:
    value = (row.get("metrics", {}).get(name) or {}).get("value")
    return None if value is None else float(value)


_TOKEN = re.compile(r"\s*(?:\w[\w'/-]*|[^\w\s])")


def _tokens(text: str) -> list[str]:
    """Words and punctuation marks, each with one leading space where the text had whitespace before it."""
    return [(" " if t[0].isspace() else "") + t.lstrip() for t in _TOKEN.findall(text.strip())]


def word_diff(a: str, b: str) -> list[WordOp]:
    """Word-level diff of two texts. Punctuation is a token of its own (so 'course.' -> 'course on page 99.'
    inserts three words); a replaced run is a delete then an insert. Each op's text keeps its leading space."""
    ta, tb = _tokens(a), _tokens(b)
    ops: list[WordOp] = []
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(WordOp(op="equal", text="".join(tb[j1:j2])))
            continue
        if i2 > i1:
            ops.append(WordOp(op="delete", text="".join(ta[i1:i2])))
        if j2 > j1:
            ops.append(WordOp(op="insert", text="".join(tb[j1:j2])))
    return ops


def text_changes(run_a: Path, run_b: Path, system: str = "full") -> list[TextChange]:
    """Every item both runs drafted with `system`: items whose decision changed first, then items whose text
    changed, then the rest, each group in letter order."""
    a, b = _load(run_a, system), _load(run_b, system)
    common = sorted(set(a) & set(b))
    if not common:
        raise DrafterError(f"The runs share no {system!r} items; compare runs over the same letters.")
    out = []
    for k in common:
        ra, rb = a[k], b[k]
        ta, tb = ra["draft"].get("rationale", ""), rb["draft"].get("rationale", "")
        out.append(TextChange(
            letter=k[0], item_index=k[1], item=ra["gold"]["item"], letter_decision=ra["gold"]["decision"],
            letter_rationale=ra["gold"].get("rationale", ""), decision_a=ra["draft"]["decision"], decision_b=rb["draft"]["decision"],
            rationale_a=ta, rationale_b=tb,
            page_recall_a=_metric(ra, "citation_page_recall"), page_recall_b=_metric(rb, "citation_page_recall"),
            rouge_l_a=_metric(ra, "rouge_l"), rouge_l_b=_metric(rb, "rouge_l"), words=word_diff(ta, tb)))
    return sorted(out, key=lambda c: (not c.decision_changed, not c.text_changed))  # stable: letter order within a group


def _template_sources(run: Path) -> dict[str, str]:
    folder = Path(run) / "prompts"
    if not folder.is_dir():
        raise DrafterError(f"{run}: no prompts/ snapshot (the run was written before runs kept their templates); "
                           "run `imr-drafter eval` again into a new --out to compare its templates.")
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.j2"))}


def run_prompt_version(run: Path) -> str:
    """The prompt version a run's provenance.json records ('unknown' when it has none)."""
    path = Path(run) / "provenance.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("prompt_version") or "unknown")
    except (OSError, ValueError):
        return "unknown"


def _header_version(source: str | None) -> str | None:
    if source is None:
        return None
    m = _VERSION.search(source)
    return m.group(1) if m else "none"


def template_diff(run_a: Path, run_b: Path) -> TemplateDiff:
    """A unified diff per template between the two runs' prompts/ snapshots, with each run's version numbers."""
    sa, sb = _template_sources(run_a), _template_sources(run_b)
    changes = []
    for name in sorted(set(sa) | set(sb)):
        src_a, src_b = sa.get(name), sb.get(name)
        diff = "".join(difflib.unified_diff(
            (src_a or "").splitlines(keepends=True), (src_b or "").splitlines(keepends=True),
            fromfile=f"A/{name}.j2", tofile=f"B/{name}.j2")) if src_a != src_b else ""
        if diff and not diff.endswith("\n"):
            diff += "\n"
        changes.append(TemplateChange(name=name, version_a=_header_version(src_a), version_b=_header_version(src_b), diff=diff))
    return TemplateDiff(prompt_version_a=run_prompt_version(run_a), prompt_version_b=run_prompt_version(run_b), templates=changes)


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def _marked(text: str, before: str, after: str, escape: bool = False) -> str:
    core = text.lstrip()
    body = html.escape(core) if escape else core
    return text[: len(text) - len(core)] + before + body + after


def inline_diff(words: list[WordOp]) -> str:
    """Plain-text rendering of a word diff: [-removed-] and {+added+} (as `git diff --word-diff` prints it)."""
    marks = {"equal": ("", ""), "delete": ("[-", "-]"), "insert": ("{+", "+}")}
    return "".join(_marked(w.text, *marks[w.op]) for w in words).strip()


def highlight_html(words: list[WordOp], side: Literal["a", "b"]) -> str:
    """One draft as HTML with the words the other draft lacks marked (<del> on side A, <ins> on side B);
    every piece of text is escaped, so a draft cannot inject markup."""
    keep, tag = ("delete", "del") if side == "a" else ("insert", "ins")
    parts = []
    for w in words:
        if w.op == "equal":
            parts.append(html.escape(w.text))
        elif w.op == keep:
            parts.append(_marked(w.text, f"<{tag}>", f"</{tag}>", escape=True))
    return "".join(parts).strip()


def format_text_changes(changes: list[TextChange], only_changed: bool = True) -> str:
    """The per-item text comparison for a terminal: decision A -> B, metric deltas, the letter's rationale and
    the word diff of the two drafts."""
    shown = [c for c in changes if c.decision_changed or c.text_changed] if only_changed else changes
    lines = [f"{len(shown)} of {len(changes)} item(s) changed decision or text" if only_changed else f"{len(changes)} item(s)"]
    for c in shown:
        lines += ["", f"== {Path(c.letter).name} #{c.item_index} {c.item!r} (letter: {c.letter_decision})",
                  f"decision {c.decision_a} -> {c.decision_b}{'  (changed)' if c.decision_changed else ''}; "
                  f"page recall {_num(c.page_recall_a)} -> {_num(c.page_recall_b)} ({_num(c.page_recall_delta, True)}); "
                  f"ROUGE-L {_num(c.rouge_l_a)} -> {_num(c.rouge_l_b)} ({_num(c.rouge_l_delta, True)})",
                  f"letter: {c.letter_rationale}",
                  f"draft A -> B: {inline_diff(c.words) if c.text_changed else '(same text) ' + c.rationale_a}"]
    return "\n".join(lines)


def format_template_diff(td: TemplateDiff) -> str:
    """The template changes for a terminal: prompt version A -> B, then each changed template's unified diff."""
    lines = [f"prompt version {td.prompt_version_a} -> {td.prompt_version_b}",
             f"{len(td.changed)} of {len(td.templates)} template(s) changed"]
    for t in td.changed:
        lines += ["", f"== {t.name}.j2: version {t.version_a or '(absent)'} -> {t.version_b or '(absent)'}", t.diff.rstrip("\n")]
    return "\n".join(lines)
