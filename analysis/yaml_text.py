"""YAML text read strictly, with its problems in plain words.

:func:`load_yaml` reads a document as ``yaml.safe_load`` does, but refuses a field given twice
in one mapping (``safe_load`` silently keeps the last), and turns every problem into a
:class:`YamlError`: one line that names the line and says what is wrong in words a person
editing the file can act on ("the list opened with [ on line 3 is never closed"), never the
parser's own terms ("expected ',' or ']', but got '<stream end>'").  Pure: no web, no database.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode


class YamlError(ValueError):
    """YAML text that cannot be read: what is wrong (one line of plain words) and the line
    it is on (``None`` when no one line is to blame)."""

    def __init__(self, words: str, line: int | None) -> None:
        super().__init__(f"line {line}: {words}" if line is not None else words)
        self.words = words
        self.line = line


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error says so below
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UNCLOSED = {
    "flow sequence": "the list opened with [",
    "flow mapping": "the mapping opened with {",
    "quoted scalar": "the text in quotes",
}
_INDENTING = "the indenting does not line up with the lines above it (indent with spaces only)"


def _words(problem: str, context: str) -> str:
    """What a PyYAML problem means, in plain words (``context`` is what it was reading)."""
    if problem.startswith("duplicate key "):
        return f"the field {problem.removeprefix('duplicate key ')} is given twice"
    if "'\\t'" in problem:
        return "a tab is used to indent: YAML indents with spaces only"
    if problem.startswith("found character") and "cannot start any token" in problem:
        found = re.search(r"found character (.+?) that", problem)
        what = found.group(1) if found else "this character"
        return f"a value cannot start with {what}: put the value in quotes"
    if problem == "mapping values are not allowed here":
        return (
            "a colon (:) where none can be: put a value that holds ': ' in quotes, "
            "or start the next field on a new line"
        )
    if problem == "could not find expected ':'":
        return "a field name has no colon after it (write name: value)"
    if problem.startswith("found undefined alias"):
        return "an alias (*name) refers to no anchor (&name) above it"
    if problem.startswith("found unhashable key") or "unhashable" in context:
        return "a field's name is a list or a mapping: a name must be plain text"
    if problem.startswith("could not determine a constructor for the tag"):
        tag = re.search(r"tag '([^']*)'", problem)
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else "(!!...)"
        return f"the tag {name} is not allowed: remove it"
    if problem.startswith(("expected <block end>", "did not find expected key")):
        return _INDENTING
    if problem.startswith("did not find expected '-' indicator"):
        return "a list item does not start with '- ' in line with the items above it"
    if problem.startswith("found duplicate anchor"):
        return "the same anchor (&name) is given twice"
    return "this is not valid YAML: check the indenting, colons and quotes here and just above"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, max(0, position)) + 1


def _problem(error: yaml.YAMLError, text: str) -> YamlError:
    """The line and plain words of a PyYAML error."""
    if isinstance(error, yaml.reader.ReaderError):
        return YamlError(
            "the file holds a control character YAML does not allow: is it a text file?",
            _line_of(text, error.position),
        )
    if not isinstance(error, yaml.MarkedYAMLError):
        return YamlError("this is not valid YAML", None)
    problem = error.problem or ""
    context = error.context or ""
    unclosed = next((what for key, what in _UNCLOSED.items() if key in context), None)
    closing_problem = problem.startswith(("expected ',' or", "found unexpected end of stream"))
    if unclosed is not None and closing_problem and error.context_mark is not None:
        return YamlError(f"{unclosed} on this line is never closed", error.context_mark.line + 1)
    # a name without its colon is found only on a later line: name the line it is on
    own_line = "simple key" in context and error.context_mark is not None
    mark = error.context_mark if own_line else (error.problem_mark or error.context_mark)
    return YamlError(_words(problem, context), None if mark is None else mark.line + 1)


def load_yaml(text: str) -> object:
    """The document of YAML ``text`` (as ``yaml.safe_load``, keys given twice refused), or a
    :class:`YamlError` naming the line in plain words."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506  # nosec B506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise _problem(error, text) from None
    except RecursionError:
        raise YamlError("the file nests lists or mappings too deeply to read", None) from None
