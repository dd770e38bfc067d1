"""The real embedded model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M via llama.cpp), assembled from its PyPI parts."""

from __future__ import annotations

import json

import pytest

from drafter.chain import Drafter
from drafter.model_assets import PACKAGED_MODELS, ensure_model_file
from tests.conftest import REPO
from tests.integration.conftest import make_settings

pytestmark = pytest.mark.integration
CASES = REPO / "evals" / "cases"


@pytest.fixture(scope="module")
def real_drafter(built_home):
    settings = make_settings(built_home)
    settings.llm.backend = "llamacpp"
    return Drafter(settings)


def test_model_is_assembled_once_and_checksummed(built_home):
    settings = make_settings(built_home)
    path = ensure_model_file(settings)
    assert path.stat().st_size > 1_000_000_000
    assert json.loads(path.with_suffix(".gguf.verified.json").read_text())["sha256"] == PACKAGED_MODELS[settings.llm.model].sha256
    assert ensure_model_file(settings) == path


@pytest.mark.parametrize("case", ["case-01-pt-continuation-lumbar", "case-31-gabapentin-radicular"])
def test_real_model_drafts_a_cited_grounded_determination(real_drafter, case):
    draft = real_drafter.draft(CASES / case)
    exp = json.loads((CASES / case / "expected.json").read_text())
    assert draft.model.startswith("llamacpp:")
    for got, want in zip(draft.items, exp["items"]):
        assert got.decision == want["expected_decision"]
        assert got.citations and all(c.chunk_id in got.retrieved_chunk_ids for c in got.citations)
        assert got.rationale.endswith("medically necessary.")
        # the model's own prose must pass every output check (no echo, stub, loop, wrong stance or edition) without
        # the template taking over; a failure here is a real regression of the prompt or the model
        replies = [(a.get("problems"), str(a.get("raw", ""))[:600]) for a in got.model_log.get("attempts", [])]
        assert got.tokens["completion"] > 0 and not got.fallback_used, (got.notes, replies)
        assert [c.name for c in got.checks if not c.passed] == []
        assert "..." not in got.rationale and "Sentence 1" not in got.rationale
        for d in got.dropped_sentences:
            assert d["sentence"] not in got.rationale, "ungrounded sentences are not in the draft"
    assert draft.case_summary.text and draft.case_summary.sources
    assert draft.timings_s["total"] > 0
