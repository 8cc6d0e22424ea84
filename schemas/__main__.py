"""Write the record's JSON Schema: ``python -m schemas [PATH]`` (default: the shipped file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.record import json_schema

SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


def render() -> str:
    """Return the JSON Schema text exactly as it is checked in."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the schema to the given path or the shipped file."""
    target = Path(argv[0]) if argv else SCHEMA_FILE
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
