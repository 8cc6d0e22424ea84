"""``python -m tests.extract_cases [--update] [NAME ...]``: compare or rewrite golden expectations.

Without ``--update`` it lists the cases whose extraction differs from
``expected.json`` (exit 1 when any does). With ``--update`` it rewrites those
expectations; review the diff (``git diff tests/extract_cases``) before
committing it.
"""

from __future__ import annotations

import argparse

from tests.extract_cases import actual, case_names, expected, write_expected


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.extract_cases", description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the differing expectations")
    parser.add_argument("names", nargs="*", help="cases to look at (default: all)")
    args = parser.parse_args(argv)
    names = args.names or case_names()
    unknown = sorted(set(names) - set(case_names()))
    if unknown:
        parser.error(f"no such case: {', '.join(unknown)}")
    differing = []
    for name in names:
        now = actual(name)
        try:
            before = expected(name)
        except FileNotFoundError:
            before = None
        if now == before:
            continue
        differing.append(name)
        changed = sorted(k for k in now if before is None or now.get(k) != before.get(k))
        print(f"{name}: {', '.join(changed)}")
        if args.update:
            write_expected(name, now)
    verb = "rewritten" if args.update else "differ"
    print(f"{len(differing)} of {len(names)} case(s) {verb}")
    return 1 if differing and not args.update else 0


if __name__ == "__main__":
    raise SystemExit(main())
