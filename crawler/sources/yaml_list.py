"""Sources lists in YAML: a top-level list of entries (mappings or bare URLs), streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.resolver import Resolver

from crawler.sources.entries import (
    _ID_KEYS,
    SourceEntry,
    SourcesError,
    _open_binary,
    entry_from_value,
)


def _make_streaming_loader() -> type[Any]:
    """A safe loader whose ``compose_node`` can take one sequence item at a time.

    libyaml's C parser makes this about six times faster than pure Python;
    PyYAML's own SafeLoader already has every piece when libyaml is absent.
    """
    # Dates stay the text that was written (``published_date: 2025-10-13``
    # passes through as that string, not as a date object).
    resolvers = {
        first: [r for r in found if r[0] != "tag:yaml.org,2002:timestamp"]
        for first, found in Resolver.yaml_implicit_resolvers.items()
    }
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml

        class PyStreamingLoader(yaml.SafeLoader):
            yaml_implicit_resolvers = resolvers

        return PyStreamingLoader

    class CStreamingLoader(CParser, Composer, SafeConstructor, Resolver):
        yaml_implicit_resolvers = resolvers

        def __init__(self, stream: IO[bytes]) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return CStreamingLoader


_StreamingYamlLoader = _make_streaming_loader()


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _yaml_error(path: str, exc: yaml.YAMLError) -> SourcesError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return SourcesError(path, message, line)


#: explicit tags a sources list may carry: the plain JSON-like values
#: (``!`` is YAML's non-specific tag, a quoted string). Every other tag is
#: refused, ``!!python/object`` and application tags such as ``!custom`` alike.
_PLAIN_VALUES = ("str", "int", "float", "bool", "null", "seq", "map")
SAFE_YAML_TAGS = frozenset({"!"} | {f"tag:yaml.org,2002:{name}" for name in _PLAIN_VALUES})
#: nesting deeper than this is refused: a citation entry is a mapping of a few
#: lists, and unbounded nesting costs memory and recursion when entries are built
MAX_YAML_DEPTH = 64


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,") else tag


def _check_yaml_event(path: str, event: yaml.Event) -> None:
    """Refuse aliases and tags outside :data:`SAFE_YAML_TAGS` (syntax is the parser's job)."""
    if isinstance(event, yaml.AliasEvent):
        # PyYAML's safe loader expands aliases: a few hundred bytes of nested
        # aliases become gigabytes. A citation list never needs them.
        raise SourcesError(
            path,
            f"YAML alias *{event.anchor} is not allowed in a sources list (write the value out)",
            _line(event.start_mark),
        )
    tag = getattr(event, "tag", None)
    if isinstance(event, yaml.NodeEvent) and tag is not None and tag not in SAFE_YAML_TAGS:
        raise SourcesError(
            path,
            f"YAML tag {_shown_tag(tag)} is not allowed in a sources list "
            "(only plain strings, numbers, booleans, nulls, lists and mappings)",
            _line(event.start_mark),
        )


def _check_yaml(path: str) -> None:
    with _open_binary(path) as f:
        loader = _StreamingYamlLoader(f)
        try:
            depth = 0
            top_kind: str | None = None
            while loader.check_event():
                event = loader.get_event()
                _check_yaml_event(path, event)
                if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                    if depth >= MAX_YAML_DEPTH:
                        raise SourcesError(
                            path,
                            f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
                            _line(event.start_mark),
                        )
                    if depth == 0 and top_kind is None:
                        top_kind = type(event).__name__
                        if isinstance(event, yaml.MappingStartEvent):
                            raise SourcesError(
                                path,
                                "expected a list of entries at the top level, found a mapping",
                                _line(event.start_mark),
                            )
                    depth += 1
                elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                    depth -= 1
                elif isinstance(event, yaml.DocumentStartEvent) and top_kind is not None:
                    raise SourcesError(
                        path, "expected one YAML document, found several", _line(event.start_mark)
                    )
        except yaml.YAMLError as exc:
            raise _yaml_error(path, exc) from exc
        finally:
            loader.dispose()


def _iter_yaml(path: str) -> Iterator[SourceEntry]:
    with _open_binary(path) as f:
        loader = _StreamingYamlLoader(f)
        try:
            loader.get_event()  # StreamStart
            if loader.check_event(yaml.StreamEndEvent):
                return
            loader.get_event()  # DocumentStart
            if not loader.check_event(yaml.SequenceStartEvent):
                node = loader.compose_node(None, None)
                value = loader.construct_document(node)
                if value is not None:  # an empty document is an empty list
                    yield entry_from_value(value, f"{path}:{node.start_mark.line + 1}")
                return
            loader.get_event()
            while not loader.check_event(yaml.SequenceEndEvent):
                node = loader.compose_node(None, None)
                origin = f"{path}:{node.start_mark.line + 1}"
                value = loader.construct_document(node)
                entry = entry_from_value(value, origin)
                _keep_verbatim_ids(node, entry)
                yield entry
        except yaml.YAMLError as exc:  # the file changed since check_sources()
            raise _yaml_error(path, exc) from exc
        finally:
            loader.dispose()


def _keep_verbatim_ids(node: Node, entry: SourceEntry) -> None:
    """Take ids from the source text, so ``id: 0123`` stays "0123" and not 83."""
    if not isinstance(node, MappingNode):
        return
    for key_node, value_node in node.value:
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value in _ID_KEYS
            and isinstance(value_node, ScalarNode)
            and value_node.value.strip()
            and value_node.tag != "tag:yaml.org,2002:null"
        ):
            setattr(entry, key_node.value, value_node.value.strip())


def check(path: str) -> None:
    """Read a YAML list whole; raise :class:`SourcesError` when it is not a list of entries."""
    _check_yaml(path)


def iter_entries(path: str) -> Iterator[SourceEntry]:
    """Yield the entries of a YAML list, one at a time."""
    return _iter_yaml(path)
