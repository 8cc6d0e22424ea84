"""The house rules of ARCHITECTURE.md, read from the code's own imports.

Every module of ``crawler``, ``pipelines`` and ``schemas`` is parsed (``ast``,
nothing is imported), every import statement counts, also those inside
functions and under ``TYPE_CHECKING``. The rules:

- no circle between rooms;
- ``schemas`` imports nothing of the project;
- ``pipelines/extract`` imports neither Scrapy nor Twisted nor any project
  module outside itself (so it stays runnable without Scrapy);
- nothing ``crawler/spiders`` reaches, directly or through other modules,
  is in ``crawler/distributed`` (the spider knows no mode);
- from outside ``crawler/fetch`` only ``crawler.fetch.errors`` and
  ``crawler.fetch.urls`` are imported (settings name the rest by dotted path).

The checker is tested on small invented trees too, so that a rule that could
never fire would show.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("crawler", "pipelines", "schemas")
# the guard's decision (may the crawler connect to this address?) is pure, and the
# browser's proxy (crawler/render) must apply it to the connections it makes itself
FETCH_DOORS = frozenset({"crawler.fetch.errors", "crawler.fetch.urls", "crawler.fetch.guard"})
#: the crawl command installs the log redaction before Scrapy logs its first line
#: (the overridden settings), earlier than any extension can
LOG_SETUP = ("crawler.commands", "crawler.fetch.redact")
NO_SCRAPY = ("scrapy", "twisted", "itemadapter")


@dataclass(frozen=True)
class Arrow:
    """One import: ``source`` (a project module) imports ``target`` (any module)."""

    source: str
    target: str
    line: int


def module_name(root: Path, path: Path) -> str:
    """The dotted name of a module file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def arrows(root: Path, packages: Iterable[str] = PACKAGES) -> list[Arrow]:
    """Every import of every module of ``packages`` under ``root``."""
    found: list[Arrow] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            source = module_name(root, path)
            is_package = path.name == "__init__.py"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    found += [Arrow(source, alias.name, node.lineno) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _absolute(source, is_package, node.module, node.level)
                    # `from pkg import name` may import the module pkg.name
                    found.append(Arrow(source, base, node.lineno))
                    found += [
                        Arrow(source, f"{base}.{alias.name}", node.lineno)
                        for alias in node.names
                        if _is_module(root, f"{base}.{alias.name}")
                    ]
    return found


def _absolute(source: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    anchor = source.split(".") if is_package else source.split(".")[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, module] if module else anchor)


def _is_module(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_project(name: str) -> bool:
    """Whether a module name belongs to the project."""
    return name.split(".")[0] in PACKAGES


def room_of(module: str) -> str:
    """The room of a project module: ``crawler/<room>``, ``pipelines`` (stages),
    ``pipelines/extract``, ``schemas``; a loose module of ``crawler`` is its own room."""
    parts = module.split(".")
    if parts[0] == "pipelines":
        return "pipelines.extract" if parts[1:2] == ["extract"] else "pipelines"
    if parts[0] == "schemas" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def circles(found: Iterable[Arrow]) -> list[list[str]]:
    """Groups of rooms that import each other in a circle (strongly connected, size > 1)."""
    graph: dict[str, set[str]] = {}
    for arrow in found:
        if is_project(arrow.target):
            a, b = room_of(arrow.source), room_of(arrow.target)
            graph.setdefault(a, set())
            graph.setdefault(b, set())
            if a != b:
                graph[a].add(b)
    # Tarjan's algorithm, iterative enough for a few dozen rooms
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def reachable(found: Iterable[Arrow], start: str) -> dict[str, str]:
    """Project modules reached from the modules under ``start``, each with who imported it."""
    graph: dict[str, set[str]] = {}
    for arrow in found:
        if is_project(arrow.target):
            graph.setdefault(arrow.source, set()).add(arrow.target)
    seen: dict[str, str] = {}
    todo = [m for m in graph if _inside(m, start)]
    while todo:
        module = todo.pop()
        for target in graph.get(module, ()):
            if target not in seen and not _inside(target, start):
                seen[target] = module
                todo.append(target)
    return seen


def violations(found: list[Arrow]) -> list[str]:
    """Every broken rule, as a sentence naming the module and line."""
    problems: list[str] = []
    for a in found:
        where = f"{a.source}:{a.line} imports {a.target}"
        if (
            _inside(a.source, "schemas")
            and is_project(a.target)
            and not _inside(a.target, "schemas")
        ):
            problems.append(f"{where}: schemas import nothing of the project")
        if _inside(a.source, "pipelines.extract"):
            if a.target.split(".")[0] in NO_SCRAPY:
                problems.append(f"{where}: extraction imports no Scrapy")
            elif is_project(a.target) and not _inside(a.target, "pipelines.extract"):
                problems.append(f"{where}: extraction imports nothing outside pipelines/extract")
        if (
            _inside(a.target, "crawler.fetch")
            and not _inside(a.source, "crawler.fetch")
            and a.target != "crawler.fetch"
            and not any(_inside(a.target, door) for door in FETCH_DOORS)
            and not (_inside(a.source, LOG_SETUP[0]) and a.target == LOG_SETUP[1])
            # the browser's side of fetching: its handler and proxy reuse fetch's pieces
            and not _inside(a.source, "crawler.render")
        ):
            problems.append(
                f"{where}: crawler/fetch is entered through errors, urls and guard only"
            )
    for module, importer in sorted(reachable(found, "crawler.spiders").items()):
        if _inside(module, "crawler.distributed"):
            problems.append(f"crawler/spiders reaches {module} (through {importer}): no mode")
    for group in circles(found):
        problems.append(f"rooms import each other in a circle: {' <-> '.join(group)}")
    return problems


def test_the_project_keeps_the_house_rules() -> None:
    found = arrows(PROJECT_ROOT)
    assert len({a.source for a in found}) > 50  # the whole project was read
    assert violations(found) == []


def test_the_rooms_are_the_documented_ones() -> None:
    rooms = {room_of(a.source) for a in arrows(PROJECT_ROOT)}
    assert {
        "crawler.sources",
        "crawler.fetch",
        "crawler.incremental",
        "crawler.publish",
        "crawler.watch",
        "crawler.distributed",
        "crawler.spiders",
        "pipelines",
        "pipelines.extract",
        "schemas",
    } <= rooms


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"schemas/record.py": "from crawler.items import SourceItem\n"},
            "schemas import nothing of the project",
        ),
        (
            {"pipelines/extract/core.py": "def f():\n    import scrapy\n"},
            "extraction imports no Scrapy",
        ),
        (
            {
                "pipelines/extract/core.py": "from crawler.ids import x\n",
                "crawler/ids.py": "",
            },
            "extraction imports nothing outside pipelines/extract",
        ),
        (
            {
                "crawler/spiders/sources.py": "from crawler.sources.provider import P\n",
                "crawler/sources/provider.py": "from crawler.distributed import worker\n",
                "crawler/distributed/worker.py": "",
            },
            "crawler/spiders reaches crawler.distributed.worker",
        ),
        (
            {
                "pipelines/classify.py": "from crawler.fetch.middlewares import Guard\n",
                "crawler/fetch/middlewares.py": "",
            },
            "crawler/fetch is entered through errors, urls and guard only",
        ),
        (
            {
                "pipelines/classify.py": "from crawler.fetch import middlewares\n",
                "crawler/fetch/middlewares.py": "",
            },
            "crawler/fetch is entered through errors, urls and guard only",
        ),
        (
            {
                "crawler/publish/a.py": "from crawler.watch.b import x\n",
                "crawler/watch/b.py": "from crawler.publish import a\n",
            },
            "circle: crawler.publish <-> crawler.watch",
        ),
        (
            {
                "crawler/publish/a.py": "from . import b\nfrom ..watch import c\n",
                "crawler/publish/b.py": "",
                "crawler/watch/c.py": "from ..publish.a import x\n",
            },
            "circle: crawler.publish <-> crawler.watch",
        ),
    ],
)
def test_the_checker_sees_each_kind_of_broken_rule(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    problems = violations(arrows(_tree(tmp_path, files)))
    assert any(expected in p for p in problems), problems


def test_the_checker_lets_allowed_imports_through(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pipelines/outcome.py": "from crawler.fetch.errors import E\n",
            "crawler/spiders/sources.py": "from crawler.fetch.urls import u\n",
            "crawler/fetch/errors.py": "",
            "crawler/fetch/urls.py": "from crawler.fetch.redact import r\n",
            "crawler/fetch/redact.py": "",
            "pipelines/extract/core.py": "import lxml\nfrom pipelines.extract import sniff\n",
            "pipelines/extract/sniff.py": "",
            "schemas/reader.py": "import jsonlines\nfrom schemas.record import R\n",
        },
    )
    assert violations(arrows(root)) == []
