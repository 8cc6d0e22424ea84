"""Write the record's JSON Schema: ``python -m schemas [PATH]`` (default: the shipped file)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from schemas.record import json_schema

SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


def render() -> str:
    """Return the JSON Schema text exactly as it is checked in."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m schemas``."""
    command = argparse.ArgumentParser(
        prog="python -m schemas",
        description="Write the JSON Schema of a record, generated from schemas/record.py.",
    )
    command.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=SCHEMA_FILE,
        help=f"where to write it (default: the shipped {SCHEMA_FILE.name})",
    )
    command.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the file at PATH differs from the model",
    )
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schema to the given path or the shipped file (or check it with --check)."""
    args = parser().parse_args(argv)
    target: Path = args.path
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != render():
            print(f"{target} is stale: run `python -m schemas`")
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
