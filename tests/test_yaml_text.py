"""YAML problems in plain words: each names its line and says what to mend, never the
parser's own terms; a field given twice is refused rather than silently dropped."""

from __future__ import annotations

import pytest
import yaml

from analysis.yaml_text import YamlError, load_yaml

PARSER_WORDS = ("<stream end>", "<block", "expected ','", "token", "scalar", "mapping values")

CASES = [
    ("id: [unclosed\n", 1, "the list opened with [ on this line is never closed"),
    ("id: x\ntitle: {a: 1\n", 2, "the mapping opened with { on this line is never closed"),
    ('id: x\ntitle: "no end\n', 2, "the text in quotes on this line is never closed"),
    ("id: x\n\tversion: 1\n", 2, "a tab is used to indent"),
    ("id: x\ntitle: a: b\n", 2, "put a value that holds ': ' in quotes"),
    ("id: x\nversion\ntitle: y\n", 2, "a field name has no colon after it"),
    ("id: x\nid: y\n", 2, "the field 'id' is given twice"),
    ("items:\n  - a\n - b\n", 3, "the indenting does not line up"),
    ("id: *nowhere\n", 1, "refers to no anchor"),
    ("id: !!python/object:os.system x\n", 1, "the tag !!python/object:os.system is not allowed"),
    ("id: @x\n", 1, "a value cannot start with '@'"),
    ("id: x\x00\n", 1, "a control character"),
]


@pytest.mark.parametrize(("text", "line", "words"), CASES)
def test_a_problem_names_its_line_in_plain_words(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlError) as raised:
        load_yaml(text)
    problem = raised.value
    assert problem.line == line and words in problem.words, str(problem)
    assert str(problem).startswith(f"line {line}: ") and "\n" not in str(problem)
    assert not any(term in str(problem) for term in PARSER_WORDS), str(problem)


def test_too_deep_a_document_is_a_problem_not_a_crash() -> None:
    with pytest.raises(YamlError, match="too deeply") as raised:
        load_yaml("id: " + "[" * 5000 + "]" * 5000)
    assert raised.value.line is None


def test_good_yaml_reads_as_safe_load_does_anchors_and_merges_included() -> None:
    text = "base: &b {kind: report}\nfirst: *b\nsecond:\n  <<: *b\n  page: 3\nlist: [1, 2]\n"
    assert load_yaml(text) == yaml.safe_load(text)
