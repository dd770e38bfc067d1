"""`python -m drafter.corpus.validate [DIR]`: check every topic file; exit 1 on the first bad corpus."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from drafter.corpus.topics import load_corpus
from drafter.errors import CorpusError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "guideline_corpus")
    try:
        topics = load_corpus(directory)
    except CorpusError as exc:
        print(exc, file=sys.stderr)
        return 1
    by_cat = Counter(t.meta.category.value for t in topics)
    print(f"{len(topics)} topics valid: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
