"""Read guideline topic files (Markdown with YAML front matter) into validated `Topic`s."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from drafter.corpus.schema import TopicMeta
from drafter.errors import CorpusError

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)
# A section heading may end with the printed pages it covers: "## Frequency [pp. 98-99]".
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\[(?:p|pp)\.\s*([\d,\s\-–]+)\])?\s*$")


@dataclass(frozen=True)
class Section:
    """A body section: its heading, its text and the printed pages it covers."""

    heading: str
    text: str
    pages: tuple[int, ...]


@dataclass(frozen=True)
class Topic:
    meta: TopicMeta
    body: str
    path: Path
    sections: tuple[Section, ...] = field(default=())

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]


def parse_pages(spec: str) -> tuple[int, ...]:
    """'98-99, 8' -> (98, 99, 8). Ranges expand; order is kept; repeats dropped."""
    out: list[int] = []
    for part in re.split(r"\s*,\s*", spec.strip()):
        if not part:
            continue
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and all(b.isdigit() for b in bounds):
            lo, hi = int(bounds[0]), int(bounds[1])
            if hi < lo or hi - lo > 50:
                raise ValueError(f"bad page range {part!r}")
            pages = range(lo, hi + 1)
        elif part.isdigit():
            pages = [int(part)]
        else:
            raise ValueError(f"bad page spec {part!r}")
        out.extend(p for p in pages if p not in out)
    return tuple(out)


def split_sections(body: str, default_pages: tuple[int, ...], where: str = "") -> tuple[Section, ...]:
    """Split a Markdown body at headings; each section inherits the topic pages unless it names its own."""
    sections: list[Section] = []
    heading, pages, lines = "", default_pages, []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(heading, text, pages))

    for line in body.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            heading, lines = m.group(2).strip(), []
            if not m.group(3) and re.search(r"\[(?:p|pp)\.", heading):
                # a page label the pattern cannot read would leave the section on the topic's pages, silently
                raise CorpusError(f"{where}: heading {line.strip()!r}: unreadable page label. Write one label, e.g. [p. 98] or "
                                  "[pp. 22, 98-99].")
            try:
                pages = parse_pages(m.group(3)) if m.group(3) else default_pages
            except ValueError as exc:
                raise CorpusError(f"{where}: heading {line.strip()!r}: {exc}. Write e.g. [p. 98] or [pp. 98-99].") from exc
        else:
            lines.append(line)
    flush()
    return tuple(sections)


def _field_path(err: dict) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(front matter)"


def load_topic(path: Path) -> Topic:
    """Parse and validate one topic file; raise CorpusError naming the file and field."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read ({exc}). Save it as UTF-8 text.") from exc
    m = _FRONT.match(raw)
    if not m:
        raise CorpusError(f"{path}: no YAML front matter. Start the file with '---', the fields, then '---'.")
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: front matter must be a mapping of fields.")
    try:
        meta = TopicMeta.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"field '{_field_path(e)}': {e['msg']}" for e in exc.errors())
        raise CorpusError(f"{path}: {problems}") from exc
    if meta.id != path.stem:
        raise CorpusError(f"{path}: field 'id' is {meta.id!r} but must equal the file name {path.stem!r}.")
    body = m.group(2).strip()
    if len(body) < 200:
        raise CorpusError(f"{path}: the body states too little ({len(body)} characters); state the guideline's content.")
    sections = split_sections(body, tuple(meta.pages), where=str(path))
    return Topic(meta=meta, body=body, path=path, sections=sections)


def load_corpus(directory: Path) -> list[Topic]:
    """Load every `*.md` topic under `directory` (README.md excluded); all-or-nothing."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*.md") if p.name.lower() != "readme.md")
    if not files:
        raise CorpusError(f"{directory}: no topic files (*.md). Point DRAFTER_CORPUS_DIR at guideline_corpus/.")
    topics, errors = [], []
    for f in files:
        try:
            topics.append(load_topic(f))
        except CorpusError as exc:
            errors.append(str(exc))
    seen: dict[str, Path] = {}
    for t in topics:
        if t.meta.id in seen:
            errors.append(f"{t.path}: id {t.meta.id!r} already used by {seen[t.meta.id]}")
        seen[t.meta.id] = t.path
    if errors:
        raise CorpusError(f"{len(errors)} corpus file(s) are invalid; nothing was indexed:\n" + "\n".join(errors))
    return topics
