"""Every template's variables match what the code passes; versions are declared; rendering is strict."""

from __future__ import annotations

import pytest

from drafter.errors import ConfigError
from drafter.prompts import TEMPLATE_VARIABLES, PromptLibrary
from drafter.settings import REPO_ROOT

LIB = PromptLibrary(REPO_ROOT / "prompts")


@pytest.mark.parametrize("name", sorted(TEMPLATE_VARIABLES))
def test_template_variables_match_the_code(name):
    assert LIB.templates[name].variables == TEMPLATE_VARIABLES[name]
    assert LIB.templates[name].version


def test_no_stray_templates():
    on_disk = {p.stem for p in (REPO_ROOT / "prompts").glob("*.j2")}
    assert on_disk == set(TEMPLATE_VARIABLES)


def test_render_refuses_missing_or_extra_variables():
    with pytest.raises(ConfigError, match="code passes"):
        LIB.render("case_summary")
    with pytest.raises(ConfigError, match="code passes"):
        LIB.render("case_summary", facts=[], extra=1)


def test_version_changes_with_any_template(tmp_path):
    for p in (REPO_ROOT / "prompts").glob("*.j2"):
        (tmp_path / p.name).write_text(p.read_text())
    before = PromptLibrary(tmp_path).version
    (tmp_path / "system.j2").write_text((tmp_path / "system.j2").read_text() + "\nOne more rule.")
    assert PromptLibrary(tmp_path).version != before


def test_missing_version_header_is_an_error(tmp_path):
    for p in (REPO_ROOT / "prompts").glob("*.j2"):
        (tmp_path / p.name).write_text(p.read_text())
    (tmp_path / "system.j2").write_text("no header here")
    with pytest.raises(ConfigError, match="version comment"):
        PromptLibrary(tmp_path)


def test_no_prompt_text_in_python():
    """Prompt wording lives in prompts/*.j2: no module holds the system rules or the task instructions."""
    import pathlib

    for path in pathlib.Path(REPO_ROOT / "drafter").rglob("*.py"):
        text = path.read_text()
        assert "Return JSON" not in text and "You write parts of draft" not in text, path
