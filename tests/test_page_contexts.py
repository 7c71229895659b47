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


def used_variables(environment: jinja2.Environment, name: str) -> set[str]:
    """The context variables ``name`` needs, through the templates it extends, includes and
    imports; a partial's variables that the page sets itself (``{% with %}``) are not."""
    seen: set[str] = set()
    needed: set[str] = set()  # by the page and the layouts it extends
    partials_need: set[str] = set()  # by what they include or import
    assigned: set[str] = set()
    waiting = [(name, False)]
    while waiting:
        current, partial = waiting.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = _parse(environment, current)
        found = meta.find_undeclared_variables(tree)
        if partial:
            partials_need |= found
        else:  # names the page sets outside the block that uses them
            needed |= found - _assigned(tree, macro_arguments=False)
        assigned |= _assigned(tree)
        for extends in tree.find_all(nodes.Extends):
            if isinstance(extends.template, nodes.Const):
                waiting.append((str(extends.template.value), partial))
        for included in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
            if isinstance(included.template, nodes.Const):
                waiting.append((str(included.template.value), True))
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


def test_every_admin_page_has_a_typed_context() -> None:
    """The admin pages all render from typed contexts; a new one must join them."""
    folder = Path(__file__).resolve().parent.parent / "app" / "templates" / "admin"
    pages = {f"admin/{p.name}" for p in folder.glob("*.html") if not p.name.startswith("_")}
    assert pages and pages <= set(PAGE_CONTEXTS), sorted(pages - set(PAGE_CONTEXTS))


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
