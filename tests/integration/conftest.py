"""Integration fixtures: the real packaged MiniLM model and real Chroma (on disk, and as a server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from drafter.settings import Settings
from tests.conftest import CORPUS

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def forbid_chroma_default_embedding():
    """Chroma's own default embedding function downloads a model: make any use of it fail the test run."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    def refuse(*_a, **_k):
        raise AssertionError("Chroma's default embedding function was reached")

    mp = pytest.MonkeyPatch()
    mp.setattr(ONNXMiniLM_L6_V2, "_download_model_if_not_exists", refuse)
    mp.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)
    yield
    mp.undo()


def make_settings(home: Path, **kw) -> Settings:
    env = {k: v for k, v in os.environ.items() if k.startswith("DRAFTER_")}
    for k in env:
        os.environ.pop(k)
    try:
        return Settings(home=home, **kw)
    finally:
        os.environ.update(env)


@pytest.fixture(scope="session")
def embeddings():
    from drafter.embeddings import make_embeddings

    return make_embeddings(make_settings(Path("/nonexistent")))


@pytest.fixture(scope="session")
def built_home(tmp_path_factory, embeddings):
    """A DRAFTER_HOME with the whole bundled corpus indexed once for the session."""
    from drafter.index import GuidelineIndex
    from drafter.ingest import ingest_corpus

    home = tmp_path_factory.mktemp("home")
    settings = make_settings(home)
    index = GuidelineIndex(settings, embeddings)
    report = ingest_corpus(index)
    assert report.chunks_embedded > 0
    return home


@pytest.fixture(scope="session")
def retriever(built_home, embeddings):
    from drafter.index import GuidelineIndex
    from drafter.retrieval import HybridRetriever

    settings = make_settings(built_home)
    return HybridRetriever(GuidelineIndex(settings, embeddings), settings.retrieval)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A copy of five real topic files, for tests that edit or break the corpus."""
    dest = tmp_path / "corpus"
    dest.mkdir()
    for name in ("cpmtg-physical-medicine", "cpmtg-carisoprodol", "cpmtg-tens", "cpmtg-drug-testing", "acup-acupuncture"):
        src = next(CORPUS.rglob(f"{name}.md"))
        shutil.copy(src, dest / src.name)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real Chroma server on loopback, stopped at the end of the session."""
    exe = VENV_BIN / "chroma"
    if not exe.exists():
        pytest.fail(f"{exe} missing: chromadb's server CLI should be installed with the project")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma server exited: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def two_node_cluster(monkeypatch):
    """Two Ray nodes of one CPU each on this machine; shut down whatever happens."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    assert not ray.is_initialized()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def letters_folder(dest: Path, names: list[str]) -> Path:
    """Sample letters copied into dest/letters, beside a PDF without text and a memo in a subfolder (two files
    ingest must report and skip)."""
    letters = Path(__file__).resolve().parents[2] / "evals" / "letters"
    d = dest / "letters"
    d.mkdir()
    for n in names:
        shutil.copy(letters / n, d / n)
    (d / "scan-without-text.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (d / "sub").mkdir()
    (d / "sub" / "memo.txt").write_text("Internal memo about parking spaces, with no determination in it at all.", encoding="utf-8")
    return d
