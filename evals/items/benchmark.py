"""Item-parser accuracy per field on a labeled set (default: the held-out set, never used for tuning).

    .venv/bin/python -m evals.items.benchmark [FILE.jsonl] [--show FIELD ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drafter.items import parse_item

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(HERE / "heldout_item_strings.jsonl"))
    ap.add_argument("--show", nargs="*", default=[], help="print the mismatches of these fields")
    args = ap.parse_args(argv)
    rows = [json.loads(x) for x in Path(args.file).read_text().splitlines() if x.strip()]
    fields = [k for k in rows[0] if k != "item"]
    wrong: dict[str, list] = {f: [] for f in fields}
    exact = 0
    for r in rows:
        got = parse_item(r["item"]).model_dump()
        bad = [f for f in fields if got[f] != r[f]]
        exact += not bad
        for f in bad:
            wrong[f].append((r["item"], r[f], got[f]))
    print(f"{len(rows)} items from {Path(args.file).name}; all fields right on {exact} ({exact / len(rows):.1%})")
    for f in fields:
        print(f"  {f:<20} {1 - len(wrong[f]) / len(rows):.3f}")
    for f in args.show:
        for item, want, got in wrong[f]:
            print(f"  {f}: {item!r}: expected {want!r}, got {got!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
