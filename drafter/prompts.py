"""Prompt templates: Jinja2 files in `prompts/`, each with a `{# version: N #}` header.

The code never holds prompt text. `PromptLibrary.render` refuses variables a template does not use and
templates that need variables the code did not pass, so template and code cannot drift apart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, meta

from drafter.errors import ConfigError

_VERSION = re.compile(r"\{#\s*version:\s*([\w.\-]+)\s*#\}")

# The variables the code passes to each template: checked by the test suite against the files.
TEMPLATE_VARIABLES: dict[str, set[str]] = {
    "system": set(),
    "rationale": {"item", "request_date", "decision_word", "necessity_phrase", "passages", "argument", "guidance"},
    "case_summary": {"facts"},
    "fallback_rationale": {"points", "findings", "conclusion"},
    "fallback_summary": {"paragraphs"},
    "no_retrieval": {"item", "case_summary"},  # the "LLM without retrieval" baseline of the eval harness
}


def curly_quotes(text: str) -> str:
    """Record quotes in the prompt as \u201c...\u201d: a model that copies a straight double quote into its JSON string
    closes the string early (grammar-constrained output then cuts the prose at the quote: '... records Therefore')."""
    return re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)


def straight_quotes(text: str) -> str:
    """The letter's own quotes are straight, as the template writes them."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019\u2019", "\u2019")
    # a quote the model set in single curly quotes after "records" ("records \u2018He remains unable ...\u2019.")
    return re.sub(r"(?<=records )\u2018([^\u2018]*?)\u2019(?=[.;,]?(?:\s|$))", r'"\1"', text)


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    variables: frozenset[str]
    source: str


class PromptLibrary:
    """Loads and renders the templates of one prompts folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ConfigError(f"Prompt folder {self.directory} does not exist (DRAFTER_PROMPTS_DIR).")
        self.env = Environment(
            loader=FileSystemLoader(str(self.directory)), undefined=StrictUndefined, autoescape=False,
            keep_trailing_newline=False, trim_blocks=False,
        )
        self.templates: dict[str, Template] = {}
        for name in TEMPLATE_VARIABLES:
            path = self.directory / f"{name}.j2"
            if not path.exists():
                raise ConfigError(f"Prompt template {path} is missing.")
            src = path.read_text(encoding="utf-8")
            m = _VERSION.search(src)
            if not m:
                raise ConfigError(f"{path}: first line must be a version comment, e.g. '{{# version: 1 #}}'.")
            try:
                variables = frozenset(meta.find_undeclared_variables(self.env.parse(src)))
            except TemplateError as exc:
                raise ConfigError(f"{path}: template error: {exc}") from exc
            self.templates[name] = Template(name, m.group(1), variables, src)

    @property
    def version(self) -> str:
        """e.g. 'case_summary@1+rationale@1+...#3f2a9c1d' (the hash covers every template's text)."""
        h = hashlib.sha256("".join(t.source for t in self.templates.values()).encode()).hexdigest()[:8]
        return "+".join(f"{t.name}@{t.version}" for t in self.templates.values()) + f"#{h}"

    def render(self, name: str, **variables: Any) -> str:
        t = self.templates[name]
        passed = set(variables)
        if passed != t.variables:
            raise ConfigError(
                f"prompts/{name}.j2 uses {sorted(t.variables)} but the code passes {sorted(passed)}; "
                "update the template or drafter/prompts.py TEMPLATE_VARIABLES together."
            )
        text = self.env.get_template(f"{name}.j2").render(**variables)
        return text.strip()
