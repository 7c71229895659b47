"""The typed page contexts (``app/web/pages.py``) against their templates, as datasette tests
its documented template contexts: every variable a page's template uses (with the layouts it
extends and the partials it includes or imports) is a field of its context or a global of the
environment, and every field is used.  So a renamed or forgotten variable fails here, not as
a blank on a page."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jinja2
import pytest
from jinja2 import meta, nodes

from app.templating import make_environment
from app.web.assets import find_frontend
from app.web.pages import PAGE_CONTEXTS, CheckPage
from app.web.templating import build_templates, context_dict

ENVIRONMENT = build_templates(find_frontend()).env
PER_REQUEST = {"request", "csrf_token"}  # added to every page by the templates object
# Optional parameters of partials, each with a default there (their comments say so).
PARTIAL_OPTIONS = {
    "hint",  # coordinator/_select.html, coordinator/_text_input.html: no hint
    "back_text",  # _back_link.html: "Back"
    "width",  # coordinator/_text_input.html: no width class (the sign-in form's inputs)
}


def _parse(environment: jinja2.Environment, name: str) -> nodes.Template:
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, name)
    return environment.parse(source)


def _assigned(tree: nodes.Template, *, macro_arguments: bool = True) -> set[str]:
    """Names a template sets itself: {% set %}, {% with %}, loops, macros and imports (and
    the macros' arguments, unless ``macro_arguments`` is false)."""
    names: set[str] = set()
    for node in tree.find_all((nodes.Assign, nodes.AssignBlock, nodes.For, nodes.With)):
        targets = node.targets if isinstance(node, nodes.With) else [node.target]
        for target in targets:
            names.update(n.name for n in target.find_all(nodes.Name))
            if isinstance(target, nodes.Name):
                names.add(target.name)
    for macro in tree.find_all(nodes.Macro):
        names.add(macro.name)
        if macro_arguments:
            names.update(arg.name for arg in macro.args)
    for imported in tree.find_all((nodes.Import, nodes.FromImport)):
        if isinstance(imported, nodes.Import):
            names.add(imported.target)
        else:
            names.update(n if isinstance(n, str) else n[-1] for n in imported.names)
    return names


def _imported_macros(tree: nodes.Template, imported: nodes.Node) -> frozenset[str] | None:
    """The macros ``tree`` takes from an import: those ``{% from %}`` names, or those it calls
    as ``alias.macro`` (``None``, all of them, when it uses the alias any other way)."""
    if isinstance(imported, nodes.FromImport):
        return frozenset(n if isinstance(n, str) else n[0] for n in imported.names)
    assert isinstance(imported, nodes.Import)
    alias = imported.target
    called = [
        g.attr
        for g in tree.find_all(nodes.Getattr)
        if isinstance(g.node, nodes.Name) and g.node.name == alias
    ]
    uses = sum(1 for n in tree.find_all(nodes.Name) if n.name == alias and n.ctx == "load")
    return frozenset(called) if uses == len(called) else None


def _undeclared(tree: nodes.Template, body: list[nodes.Node]) -> set[str]:
    part = nodes.Template(body, lineno=1)
    part.set_environment(tree.environment)
    return meta.find_undeclared_variables(part)


def _macros_variables(tree: nodes.Template, wanted: frozenset[str]) -> set[str]:
    """The variables an imported template's macros ``wanted`` read from the context (with the
    macros they call), and its code outside macros: a macro no page calls needs nothing."""
    macros = {node.name: node for node in tree.body if isinstance(node, nodes.Macro)}
    needed = _undeclared(tree, [n for n in tree.body if not isinstance(n, nodes.Macro)])
    waiting, done = list(wanted), set()
    while waiting:
        macro = waiting.pop()
        if macro in done or macro not in macros:
            continue
        done.add(macro)
        for variable in _undeclared(tree, [macros[macro]]):
            if variable in macros:
                waiting.append(variable)
            else:
                needed.add(variable)
    return needed


def used_variables(environment: jinja2.Environment, name: str) -> set[str]:
    """The context variables ``name`` needs, through the templates it extends, includes and
    imports (of an imported template, only the macros the page calls); a partial's variables
    that the page sets itself (``{% with %}``) are not."""
    seen: set[tuple[str, frozenset[str] | None]] = set()
    needed: set[str] = set()  # by the page and the layouts it extends
    partials_need: set[str] = set()  # by what they include or import
    assigned: set[str] = set()
    waiting: list[tuple[str, bool, frozenset[str] | None]] = [(name, False, None)]
    while waiting:
        current, partial, macros = waiting.pop()
        if (current, macros) in seen:
            continue
        seen.add((current, macros))
        tree = _parse(environment, current)
        if macros is None:
            found = meta.find_undeclared_variables(tree)
        else:
            found = _macros_variables(tree, macros)
        if partial:
            partials_need |= found
        else:  # names the page sets outside the block that uses them
            needed |= found - _assigned(tree, macro_arguments=False)
        assigned |= _assigned(tree)
        for extends in tree.find_all(nodes.Extends):
            if isinstance(extends.template, nodes.Const):
                waiting.append((str(extends.template.value), partial, None))
        for included in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
            if isinstance(included.template, nodes.Const):
                wanted = None
                if isinstance(included, (nodes.Import, nodes.FromImport)):
                    wanted = _imported_macros(tree, included)
                waiting.append((str(included.template.value), True, wanted))
    return needed | (partials_need - assigned)


def test_the_contexts_are_frozen_dataclasses_of_templates_that_exist() -> None:
    templates_folder = Path(__file__).resolve().parent.parent / "app" / "templates"
    for name, context in PAGE_CONTEXTS.items():
        assert (templates_folder / name).is_file(), name
        assert dataclasses.is_dataclass(context), name
        assert context.__dataclass_params__.frozen, name  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(PAGE_CONTEXTS))
def test_a_template_uses_exactly_its_context(name: str) -> None:
    fields = {field.name for field in dataclasses.fields(PAGE_CONTEXTS[name])}
    provided = set(ENVIRONMENT.globals) | PER_REQUEST | PARTIAL_OPTIONS
    used = used_variables(ENVIRONMENT, name)
    assert used - fields - provided == set(), f"{name} uses variables its context lacks"
    assert fields - used == set(), f"{name}'s context has fields the page never uses"


def test_the_contract_notices_a_missing_variable() -> None:
    """The check can fail: a template that names something its context lacks is caught."""
    loader = jinja2.DictLoader({"page.html": "{{ token }} {{ nowhere }}"})
    environment = jinja2.Environment(loader=loader)
    assert used_variables(environment, "page.html") == {"token", "nowhere"}


def test_a_context_is_handed_over_field_by_field_without_copies() -> None:
    answers = {"q10": 4}
    page = CheckPage(
        token="t",
        instrument=None,  # type: ignore[arg-type]
        answers=answers,
        background={},
        missing={},
        page_problems=[],
        back_url="/",
        new=False,
        resume_code=None,
    )
    given = context_dict(page)
    assert set(given) == {field.name for field in dataclasses.fields(CheckPage)}
    assert given["answers"] is answers
    with pytest.raises(TypeError):
        context_dict(["not", "a", "context"])


def test_the_environment_is_the_apps_own() -> None:
    assert make_environment() is not make_environment()
    assert "first_input_id" in ENVIRONMENT.globals and "num" in ENVIRONMENT.filters


def test_the_frequency_headings_are_a_global_of_the_environment_not_a_page_field() -> None:
    """Every report (the page and the standalone file) heads its frequency tables alike: the
    headings are set once, as a global of the app's environment, not handed to each page."""
    from analysis.frequencies import PLAIN_HEADERS

    assert ENVIRONMENT.globals["frequency_headers"] == PLAIN_HEADERS
    assert make_environment().globals["frequency_headers"] == PLAIN_HEADERS
    carrying = [
        name
        for name, context in PAGE_CONTEXTS.items()
        if "frequency_headers" in {field.name for field in dataclasses.fields(context)}
    ]
    assert carrying == []


def test_every_admin_page_has_a_typed_context() -> None:
    """The admin pages all render from typed contexts; a new one must join them."""
    folder = Path(__file__).resolve().parent.parent / "app" / "templates" / "admin"
    pages = {f"admin/{p.name}" for p in folder.glob("*.html") if not p.name.startswith("_")}
    assert pages and pages <= set(PAGE_CONTEXTS), sorted(pages - set(PAGE_CONTEXTS))


def test_an_imported_macro_needs_its_variables_only_when_the_page_calls_it() -> None:
    """A page that imports macros with its context needs what the macros it calls read (and
    the macros they call), not what the others do; used any other way, all of them."""
    loader = jinja2.DictLoader(
        {
            "_parts.html": (
                "{% macro error(f) %}{{ field_errors[f] }}{% endmacro %}"
                "{% macro items() %}{{ error('item') }}{{ chosen_items }}{% endmacro %}"
                "{% macro nav() %}{{ current }}{% endmacro %}"
            ),
            "nav.html": "{% import '_parts.html' as form with context %}{{ form.nav() }}",
            "items.html": "{% import '_parts.html' as form with context %}{{ form.items() }}",
            "from.html": "{% from '_parts.html' import nav with context %}{{ nav() }}",
            "passed.html": "{% import '_parts.html' as form with context %}{{ f(form) }}",
        }
    )
    environment = jinja2.Environment(loader=loader)
    assert used_variables(environment, "nav.html") == {"current"}
    assert used_variables(environment, "items.html") == {"field_errors", "chosen_items"}
    assert used_variables(environment, "from.html") == {"current"}
    assert used_variables(environment, "passed.html") == {
        "f",
        "field_errors",
        "chosen_items",
        "current",
    }


def test_every_coordinator_and_analyst_page_has_a_typed_context() -> None:
    """The coordinator's and the analysts' pages all render from typed contexts; a new one
    must join them."""
    templates_folder = Path(__file__).resolve().parent.parent / "app" / "templates"
    pages = {
        f"{folder}/{p.name}"
        for folder in ("coordinator", "analyst")
        for p in (templates_folder / folder).glob("*.html")
        if not p.name.startswith("_")
    }
    assert len(pages) > 10 and pages <= set(PAGE_CONTEXTS), sorted(pages - set(PAGE_CONTEXTS))


def test_every_account_respondent_report_and_public_page_has_a_typed_context() -> None:
    """Every page of the account, respondent, reports, public and mail folders, and every
    top-level page, renders from a typed context; a new one must join them.  Partials
    (``_name.html``) and layouts are checked through the pages that use them."""
    folder = Path(__file__).resolve().parent.parent / "app" / "templates"
    folders = ("account", "respondent", "reports", "public", "mail")
    patterns = ["*.html", *(f"{sub}/*.html" for sub in folders)]
    layouts = {"base.html"}  # extended by the pages, never drawn alone
    pages = {
        path.relative_to(folder).as_posix()
        for pattern in patterns
        for path in folder.glob(pattern)
        if not path.name.startswith("_") and path.name not in layouts
    }
    assert {"problem.html", "respondent/start.html", "reports/document.html"} <= pages
    assert pages <= set(PAGE_CONTEXTS), sorted(pages - set(PAGE_CONTEXTS))
