"""Comparing two eval runs' text: word diffs, per-item text changes, template diffs from the runs' prompt
snapshots, and the snapshot a run keeps (small hand-written runs, no drafting)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drafter.errors import DrafterError
from drafter.evaluation.compare import (
    WordOp,
    format_template_diff,
    format_text_changes,
    highlight_html,
    inline_diff,
    template_diff,
    text_changes,
    word_diff,
)
from tests.conftest import REPO

LETTER_1 = "/letters/sample-a.txt"
LETTER_2 = "/letters/sample-b.txt"


def row(letter: str, i: int, item: str, gold: str, rationale: str, decision: str, page_recall: float | None = None,
        rouge: float | None = None, system: str = "full") -> dict:
    metrics = {}
    if page_recall is not None:
        metrics["citation_page_recall"] = {"value": page_recall, "reason": "hand-written"}
    if rouge is not None:
        metrics["rouge_l"] = {"value": rouge, "reason": "hand-written"}
    return {"letter": letter, "item_index": i, "system": system,
            "gold": {"item": item, "decision": gold, "citations": [], "rationale": f"Letter rationale for {item}."},
            "draft": {"decision": decision, "rationale": rationale, "citations": []}, "metrics": metrics}


def write_run(folder: Path, rows: list[dict], templates: dict[str, str] | None = None, version: str = "v") -> Path:
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "provenance.json").write_text(json.dumps({"prompt_version": version}))
    if templates is not None:
        (folder / "prompts").mkdir()
        for name, src in templates.items():
            (folder / "prompts" / f"{name}.j2").write_text(src)
    return folder


@pytest.fixture
def two_runs(tmp_path) -> tuple[Path, Path]:
    a = write_run(tmp_path / "a", [
        row(LETTER_1, 0, "Physical therapy x12", "upheld", "Twelve visits exceed the course. Therefore, not necessary.", "upheld", 0.5, 0.20),
        row(LETTER_1, 1, "Tizanidine 4mg #60", "upheld", "Same text in both runs.", "upheld", 1.0, 0.30),
        row(LETTER_2, 0, "MRI lumbar spine", "overturned", "No red flags are documented.", "upheld", 0.0, 0.10),
        row(LETTER_2, 1, "Only in run A", "upheld", "Dropped from B.", "upheld", 1.0, 0.5),
        row(LETTER_1, 0, "Physical therapy x12", "upheld", "Baseline text, other system.", "upheld", 0.0, 0.0, system="always_uphold"),
    ], {"rationale": "{# version: 4 #}\nWrite the rationale.\nUse the argument.\n", "system": "{# version: 1 #}\nYou draft letters.\n"},
        version="rationale@4+system@1#aaaa")
    b = write_run(tmp_path / "b", [
        row(LETTER_1, 0, "Physical therapy x12", "upheld", "Twelve visits exceed the 9-10 visit course on page 99. Therefore, not necessary.",
            "upheld", 1.0, 0.35),
        row(LETTER_1, 1, "Tizanidine 4mg #60", "upheld", "Same text in both runs.", "upheld", 1.0, 0.30),
        row(LETTER_2, 0, "MRI lumbar spine", "overturned", "Progressive neurologic deficit is documented.", "overturned", 0.5, 0.25),
        row(LETTER_1, 0, "Physical therapy x12", "upheld", "Other system, changed.", "overturned", system="always_uphold"),
    ], {"rationale": "{# version: 5 #}\nWrite the rationale.\nQuote the guideline page.\n", "system": "{# version: 1 #}\nYou draft letters.\n",
        "case_summary": "{# version: 1 #}\nSummarize.\n"}, version="rationale@5+system@1#bbbb")
    return a, b


def test_word_diff_marks_replaced_and_added_words():
    ops = word_diff("the request for 12 sessions is denied", "the request for twelve sessions is  clearly denied")
    assert ops == [WordOp(op="equal", text="the request for"), WordOp(op="delete", text=" 12"), WordOp(op="insert", text=" twelve"),
                   WordOp(op="equal", text=" sessions is"), WordOp(op="insert", text=" clearly"), WordOp(op="equal", text=" denied")]
    assert inline_diff(ops) == "the request for [-12-] {+twelve+} sessions is {+clearly+} denied"
    assert word_diff("same words here", "same  words\nhere") == [WordOp(op="equal", text="same words here")]
    assert word_diff("", "new text") == [WordOp(op="insert", text="new text")]
    assert word_diff("old text", "") == [WordOp(op="delete", text="old text")]


def test_word_diff_keeps_punctuation_apart_and_quantities_whole():
    ops = word_diff("Twelve visits exceed the course. Therefore, no.", "Twelve visits exceed the 9-10 visit course on page 99. Therefore, no.")
    assert [o.op for o in ops] == ["equal", "insert", "equal", "insert", "equal"]
    assert inline_diff(ops) == "Twelve visits exceed the {+9-10 visit+} course {+on page 99+}. Therefore, no."
    assert inline_diff(word_diff("Norco 10/325 #60 at $5.00.", "Norco 10/325 #90 at $5.00.")) == "Norco 10/325 #[-60-]{+90+} at $5.00."


def test_highlight_escapes_the_draft_text():
    ops = word_diff("keep this <b>old</b> text", "keep this <script>x</script> text & more")
    a, b = highlight_html(ops, "a"), highlight_html(ops, "b")
    assert a == "keep this &lt;<del>b</del>&gt;<del>old</del>&lt;/<del>b</del>&gt; text"
    assert b == "keep this &lt;<ins>script</ins>&gt;<ins>x</ins>&lt;/<ins>script</ins>&gt; text <ins>&amp; more</ins>"
    assert "<script>" not in b and "<ins>" not in a and "<del>" not in b


def test_text_changes_pairs_common_items_decision_changes_first(two_runs):
    changes = text_changes(*two_runs)
    assert [(Path(c.letter).name, c.item_index) for c in changes] == [("sample-b.txt", 0), ("sample-a.txt", 0), ("sample-a.txt", 1)]
    mri, pt, same = changes
    assert mri.decision_changed and (mri.decision_a, mri.decision_b) == ("upheld", "overturned") and mri.letter_decision == "overturned"
    assert mri.page_recall_delta == pytest.approx(0.5) and mri.rouge_l_delta == pytest.approx(0.15)
    assert not pt.decision_changed and pt.text_changed
    assert pt.letter_rationale == "Letter rationale for Physical therapy x12."
    assert pt.rationale_a.startswith("Twelve visits exceed the course") and "page 99" in pt.rationale_b
    assert [w.text.strip() for w in pt.words if w.op != "equal"] == ["9-10 visit", "on page 99"]
    assert not same.text_changed and not same.decision_changed and same.words == [WordOp(op="equal", text="Same text in both runs.")]
    assert same.page_recall_delta == 0.0


def test_text_changes_of_another_system_and_missing_metrics(two_runs):
    (c,) = text_changes(*two_runs, system="always_uphold")
    assert (c.decision_a, c.decision_b) == ("upheld", "overturned")
    assert c.page_recall_a == 0.0 and c.page_recall_b is None and c.page_recall_delta is None
    with pytest.raises(DrafterError, match="share no 'retrieval_only' items"):
        text_changes(*two_runs, system="retrieval_only")


def test_format_text_changes_lists_only_changed_items(two_runs):
    out = format_text_changes(text_changes(*two_runs))
    assert out.startswith("2 of 3 item(s) changed decision or text")
    assert "decision upheld -> overturned  (changed)" in out
    assert "page recall 0.50 -> 1.00 (+0.50); ROUGE-L 0.20 -> 0.35 (+0.15)" in out
    assert "the {+9-10 visit+} course {+on page 99+}." in out and "[-No red flags are-]{+Progressive neurologic deficit is+} documented." in out
    assert "Same text in both runs." not in out
    assert "Same text in both runs." in format_text_changes(text_changes(*two_runs), only_changed=False)


def test_template_diff_per_template_with_versions(two_runs):
    td = template_diff(*two_runs)
    assert (td.prompt_version_a, td.prompt_version_b) == ("rationale@4+system@1#aaaa", "rationale@5+system@1#bbbb")
    by = {t.name: t for t in td.templates}
    assert set(by) == {"case_summary", "rationale", "system"}
    assert [t.name for t in td.changed] == ["case_summary", "rationale"]
    assert by["system"].diff == "" and (by["system"].version_a, by["system"].version_b) == ("1", "1")
    assert (by["rationale"].version_a, by["rationale"].version_b) == ("4", "5")
    diff = by["rationale"].diff.splitlines()
    assert diff[:2] == ["--- A/rationale.j2", "+++ B/rationale.j2"]
    assert "-{# version: 4 #}" in diff and "+{# version: 5 #}" in diff and "-Use the argument." in diff
    assert "+Quote the guideline page." in diff and " Write the rationale." in diff
    assert (by["case_summary"].version_a, by["case_summary"].version_b) == (None, "1")
    text = format_template_diff(td)
    assert "prompt version rationale@4+system@1#aaaa -> rationale@5+system@1#bbbb" in text
    assert "== rationale.j2: version 4 -> 5" in text and "== case_summary.j2: version (absent) -> 1" in text
    assert "system.j2" not in text


def test_template_diff_needs_the_snapshots(tmp_path, two_runs):
    old = write_run(tmp_path / "old", [row(LETTER_1, 0, "Physical therapy x12", "upheld", "x", "upheld")])
    with pytest.raises(DrafterError, match="new --out"):
        template_diff(old, two_runs[1])
    assert len(text_changes(old, two_runs[1])) == 1, "the text comparison does not need the snapshot"


def test_cli_compare_text(two_runs, capsys, isolated_env):
    from drafter.cli import main

    assert main(["eval", "compare", str(two_runs[0]), str(two_runs[1]), "--text"]) == 0
    out = capsys.readouterr().out
    assert "3 items of system 'full' in both runs" in out
    assert "== rationale.j2: version 4 -> 5" in out and "{+9-10 visit+}" in out
    assert main(["eval", "compare", str(two_runs[0]), str(two_runs[1])]) == 0
    assert "{+9-10 visit+}" not in capsys.readouterr().out


def test_a_run_snapshots_its_templates_and_refuses_others_on_resume(tmp_path):
    from drafter.evaluation.runner import PromptSnapshotMismatch, snapshot_prompts
    from drafter.prompts import PromptLibrary

    prompts = tmp_path / "prompts"
    shutil.copytree(REPO / "prompts", prompts)
    out = tmp_path / "run"
    out.mkdir()
    snap = snapshot_prompts(prompts, out)
    lib = PromptLibrary(prompts)
    assert sorted(p.stem for p in snap.glob("*.j2")) == sorted(lib.templates)
    assert (snap / "rationale.j2").read_text() == (prompts / "rationale.j2").read_text()
    assert not (out / "prompts.tmp").exists()
    assert snapshot_prompts(prompts, out) == snap, "resuming with the same templates is fine"

    # the folder is edited after the run: the snapshot still holds what the run used, and resuming is refused
    (prompts / "rationale.j2").write_text((prompts / "rationale.j2").read_text() + "\nOne more instruction.\n")
    with pytest.raises(PromptSnapshotMismatch, match="new --out"):
        snapshot_prompts(prompts, out)
    assert "One more instruction." not in (snap / "rationale.j2").read_text()
    assert isinstance(PromptSnapshotMismatch("x"), DrafterError)

    # a run from before snapshots: its provenance names the prompt version it was started with
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "provenance.json").write_text(json.dumps({"prompt_version": lib.version}))
    with pytest.raises(PromptSnapshotMismatch):
        snapshot_prompts(prompts, legacy)
    (legacy / "provenance.json").write_text(json.dumps({"prompt_version": PromptLibrary(prompts).version}))
    assert "One more instruction." in (snapshot_prompts(prompts, legacy) / "rationale.j2").read_text()
