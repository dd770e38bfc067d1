"""The eval harness on Ray: local mode gives run_eval's metrics exactly, resumes, and spreads over a cluster's nodes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drafter.evaluation.runner import run_eval
from drafter.evaluation.scoring import iter_rows
from tests.conftest import REPO
from tests.integration.conftest import make_settings

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.integration

LETTERS = REPO / "evals" / "letters"
FILES = ["letter-01-pt-lumbar-continuation", "letter-10-naproxen-omeprazole", "letter-23-cyclobenzaprine-naproxen-lumbar",
         "letter-37-tens-purchase-scraped"]
SYSTEMS = ("retrieval_only", "always_uphold")


@pytest.fixture(scope="module")
def few_letters(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray-letters")
    for f in FILES:
        shutil.copy(LETTERS / f"{f}.txt", d)
    shutil.copy(LETTERS / "not-a-letter-progress-report.txt", d)
    return d


def settings_for(home: Path, **kw):
    s = make_settings(home, **kw)
    s.llm.backend = "fake"
    s.eval.ray_batch_letters = 1  # one letter per task, so a few letters make several tasks to spread
    return s


@pytest.fixture(scope="module")
def single_machine(built_home, few_letters, tmp_path_factory):
    """The reference: the single-machine runner's metrics on the same letters."""
    out = tmp_path_factory.mktemp("run-pool")
    return run_eval(few_letters, out, settings_for(built_home), SYSTEMS, progress=False)


def scored(metrics: dict) -> dict:
    """Everything but wall-clock latency, which no two runs share."""
    return {s: {k: v for k, v in m.items() if k != "latency_s"} for s, m in metrics.items()}


def rows(out: Path) -> list[dict]:
    """The rows that parse (a row cut off by an interrupted run stays in the file, unread)."""
    return list(iter_rows(out / "results.jsonl"))


class TestLocalMode:
    @pytest.fixture(scope="class", autouse=True)
    def local_ray(self):
        from drafter.ray_engine import connect as _connect

        assert not ray.is_initialized()
        assert _connect(None, 2)
        assert ray.cluster_resources()["CPU"] == 2
        yield
        ray.shutdown()

    def test_same_metrics_as_the_single_machine_runner(self, built_home, few_letters, single_machine, tmp_path):
        from drafter.evaluation.ray_runner import run_eval_ray

        out = tmp_path / "run"
        metrics = run_eval_ray(few_letters, out, settings_for(built_home), SYSTEMS, progress=False)
        assert metrics["retrieval_only"]["items"] >= 4
        assert scored(metrics) == scored(single_machine)
        saved = json.loads((out / "metrics.json").read_text())
        assert scored(saved["systems"]) == scored(json.loads(json.dumps(single_machine)))
        run = saved["provenance"]["run"]
        assert run["engine"] == "ray" and run["letters"] == 5 and run["parse_errors"] == 1
        assert sum(run["nodes"].values()) == 5 and all(r["node"] for r in rows(out))
        assert (out / "report.html").exists() and (out / "prompts").is_dir()

    def test_resume_redoes_only_a_cut_row_and_then_adds_nothing(self, built_home, few_letters, single_machine, tmp_path):
        from drafter.evaluation.ray_runner import run_eval_ray

        out = tmp_path / "run"
        settings = settings_for(built_home)
        run_eval_ray(few_letters, out, settings, SYSTEMS, progress=False)
        lines = (out / "results.jsonl").read_text().splitlines()
        (out / "results.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
        again = run_eval_ray(few_letters, out, settings, SYSTEMS, progress=False)
        run = json.loads((out / "provenance.json").read_text())["run"]
        assert run["rows_skipped"] == len(lines) - 1 and run["rows_written"] == 1
        assert scored(again) == scored(single_machine)
        third = run_eval_ray(few_letters, out, settings, SYSTEMS, progress=False)
        run = json.loads((out / "provenance.json").read_text())["run"]
        assert run["rows_written"] == 0 and run["rows_skipped"] == len(lines)
        assert len(rows(out)) == len(lines) and scored(third) == scored(single_machine)


@pytest.fixture(scope="module")
def shared_index(chroma_server, built_home, embeddings):
    """The built guideline index copied into the Chroma server (vectors included: nothing is embedded again)."""
    from drafter.index import GuidelineIndex

    collection = "ray_eval_guidelines"
    src = GuidelineIndex(make_settings(built_home), embeddings)
    dst = GuidelineIndex(make_settings(Path("/nonexistent"), chroma_url=chroma_server, collection=collection), embeddings)
    got = src.collection.get(include=["documents", "metadatas", "embeddings"])
    for i in range(0, len(got["ids"]), 500):
        dst.collection.upsert(ids=got["ids"][i : i + 500], documents=got["documents"][i : i + 500],
                              metadatas=got["metadatas"][i : i + 500], embeddings=got["embeddings"][i : i + 500])
    assert dst.count() == src.count() > 0
    return chroma_server, collection


def test_a_two_node_cluster_spreads_the_letters_and_shares_the_chroma_server(two_node_cluster, shared_index, few_letters,
                                                                               single_machine, tmp_path):
    from drafter.evaluation.ray_runner import run_eval_ray

    url, collection = shared_index
    node_home = tmp_path / "node-home"  # no index here: the workers must use the server
    settings = settings_for(node_home, chroma_url=url, collection=collection)
    out = tmp_path / "run"
    metrics = run_eval_ray(few_letters, out, settings, SYSTEMS, address=two_node_cluster.address, progress=False)
    assert not ray.is_initialized(), "a run that joined the cluster leaves it again"
    assert scored(metrics) == scored(single_machine)
    run = json.loads((out / "provenance.json").read_text())["run"]
    assert len(run["nodes"]) == 2 and sum(run["nodes"].values()) == 5, run["nodes"]
    assert len({r["node"] for r in rows(out)}) == 2
    assert not (node_home / "index").exists()
