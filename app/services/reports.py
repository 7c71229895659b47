"""Who may read which reports, and a round's report assembled from ``analysis``.

Access: admins and analysts read every partnership; evaluators only the partnerships granted
to them; coordinators no reports. Anything a viewer may not read is reported as "not found",
exactly like an id that does not exist, so that nobody learns which rounds exist.

What is published is decided in one place, :mod:`analysis.disclosure`; this module only applies
it. Every figure of a report is computed from the round's *published set*, the responses of its
latest release (:mod:`app.services.releases`), never from live answers: a round's results
appear once a release holds at least its threshold of responses; below it, or before the first
release, only the count and when results will appear. Breakdowns and row-level downloads come
only with the final release: breakdowns hide small groups and, by complementary suppression,
more until the hidden groups hold the threshold together; row-level files are k-anonymous over
the choice-type background questions together (free-text background answers are never in a
file), unless an admin granted the reader raw access (:mod:`app.services.raw_access`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import pandas as pd
from sqlmodel import Session, col, func, select

from analysis.asymmetry import AsymmetryView, published_views
from analysis.change import ScaleChange, comparable_scales, scale_changes
from analysis.disclosure import (
    NOT_STATED,
    KAnonymous,
    OpenLinkShare,
    k_anonymise,
    results_visible,
    suppress_groups,
    validate_threshold,
)
from analysis.frequencies import FrequencyTable, item_frequency_tables
from analysis.glance import Glance, glance
from analysis.instrument import Instrument
from analysis.reading import ScaleReading, read_table4, round_cautions
from analysis.report_tables import (
    ReportTable,
    asymmetry_table,
    change_table,
    frequency_report_table,
    profile_tables,
    scores_table,
    table4_table,
    trend_table,
)
from analysis.scoring import scale_scores
from analysis.summary import (
    ProfileBar,
    Table4,
    favourable_scores,
    grouped_table4,
    respondent_scores,
    table4,
    trust_profile,
)
from analysis.trend import Trend, TrendRound, trend
from app.models import Account, AccountRole, Partnership, Response, SurveyRound
from app.services import accounts, audit, peers, raw_access, releases, rounds
from app.services.errors import FieldValidationError, InvalidRequestError, RecordNotFoundError
from app.services.instruments import round_instrument
from app.services.peers import PeerBenchmark
from app.services.releases import Publication

REPORT_ROLES = frozenset({AccountRole.ADMIN, AccountRole.EVALUATOR, AccountRole.ANALYST})
ANALYST_ROLES = frozenset({AccountRole.ADMIN, AccountRole.ANALYST})
RESPONDENT_COLUMN = "respondent"


@dataclass(frozen=True)
class Viewer:
    """A signed-in reader of reports; ``partnership_ids`` is ``None`` for every partnership."""

    account: Account
    partnership_ids: frozenset[int] | None
    raw_access: bool = False

    @property
    def is_analyst(self) -> bool:
        return self.account.has_any_role(ANALYST_ROLES)

    def may_read(self, partnership_id: int) -> bool:
        return self.partnership_ids is None or partnership_id in self.partnership_ids


def viewer_for(session: Session, account: Account | None) -> Viewer | None:
    """The viewer an account is, or ``None`` when it may read no reports."""
    if account is None or not account.has_any_role(REPORT_ROLES):
        return None
    if account.has_any_role(ANALYST_ROLES):
        return Viewer(account, None, raw_access.has_raw_access(session, account))
    return Viewer(account, frozenset(accounts.granted_partnership_ids(session, account)))


def readable_rounds(
    session: Session, viewer: Viewer
) -> list[tuple[Partnership, list[SurveyRound]]]:
    """The partnerships a viewer may read, each with its rounds (newest first)."""
    statement = select(Partnership).order_by(col(Partnership.name))
    listed = []
    for partnership in session.exec(statement):
        assert partnership.id is not None
        if viewer.may_read(partnership.id):
            listed.append((partnership, rounds.list_rounds(session, partnership.id)))
    return listed


def readable_round(session: Session, viewer: Viewer, round_id: int) -> SurveyRound:
    """The round if the viewer may read it; otherwise not found, as if it did not exist."""
    survey_round = session.get(SurveyRound, round_id)
    if survey_round is None or not viewer.may_read(survey_round.partnership_id):
        raise RecordNotFoundError("round", round_id)
    return survey_round


def record_view(session: Session, viewer: Viewer, survey_round: SurveyRound, form: str) -> None:
    """Record that ``viewer`` read a round's report (``form``: "page" or "JSON")."""
    audit.record(
        session,
        viewer.account,
        audit.AuditAction.REPORT_VIEWED,
        f"report of round {survey_round.id}",
        partnership_id=survey_round.partnership_id,
        detail=form,
    )


def record_download(
    session: Session,
    viewer: Viewer,
    survey_round: SurveyRound,
    file_name: str,
    *,
    row_level: bool,
    detail: str = "",
) -> None:
    """Record that ``viewer`` downloaded one of a round's files (by its canonical name, such
    as ``answers.csv``); a row-level file read with raw access (not k-anonymised) is
    :attr:`~app.services.audit.AuditAction.RAW_ANSWERS_DOWNLOADED`."""
    raw = row_level and viewer.raw_access
    audit.record(
        session,
        viewer.account,
        audit.AuditAction.RAW_ANSWERS_DOWNLOADED if raw else audit.AuditAction.FILE_DOWNLOADED,
        f"{file_name} of round {survey_round.id}",
        partnership_id=survey_round.partnership_id,
        detail=detail or ("not k-anonymised" if raw else ""),
    )


def change_anonymity_threshold(
    session: Session,
    round_id: int,
    threshold: int,
    *,
    actor: audit.Actor = audit.COMMAND_LINE_ACTOR,
) -> SurveyRound:
    """Set a round's threshold; refused below the minimum and once any answer has arrived."""
    survey_round = rounds.get_round(session, round_id)
    try:
        validate_threshold(threshold)
    except ValueError as error:
        raise FieldValidationError({"anonymity_threshold": str(error)}) from None
    answers = session.exec(
        select(func.count()).select_from(Response).where(col(Response.round_id) == round_id)
    ).one()
    if int(answers):
        raise InvalidRequestError(
            "the anonymity threshold is fixed once answers have arrived in the round"
        )
    before = survey_round.anonymity_threshold
    survey_round.anonymity_threshold = threshold
    session.add(survey_round)
    audit.record(
        session,
        actor,
        audit.AuditAction.THRESHOLD_CHANGED,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail=f"{before} -> {threshold}",
        commit=False,
    )
    session.commit()
    return survey_round


@dataclass(frozen=True)
class GroupResult:
    """One group of a breakdown: its Table 4 when shown, else why it is hidden."""

    value: str
    label: str
    shown: bool
    reason: str | None
    table: Table4 | None


@dataclass(frozen=True)
class Breakdown:
    question_id: str
    question_text: str
    groups: tuple[GroupResult, ...]

    @property
    def shown_groups(self) -> list[GroupResult]:
        return [g for g in self.groups if g.shown]

    @property
    def hidden_groups(self) -> list[GroupResult]:
        return [g for g in self.groups if not g.shown and g.reason]


@dataclass(frozen=True)
class ChangeSection:
    previous: SurveyRound | None
    changes: tuple[ScaleChange, ...]
    note: str | None


@dataclass(frozen=True)
class RoundReport:
    """Everything a round's report shows, or only the count when nothing is published.

    ``n_responses`` is the size of the published set when results are shown, else the number
    of submitted responses (only the count is given).
    """

    partnership: Partnership
    survey_round: SurveyRound
    instrument: Instrument
    n_responses: int
    threshold: int
    publication: Publication
    table: Table4 | None = None
    readings: tuple[ScaleReading, ...] = ()
    profile: tuple[ProfileBar, ...] = ()
    frequencies: tuple[FrequencyTable, ...] = ()
    cautions: tuple[str, ...] = ()
    breakdowns: tuple[Breakdown, ...] = ()
    change: ChangeSection | None = None
    open_link: OpenLinkShare | None = None
    anonymous: KAnonymous | None = field(default=None, repr=False, compare=False)
    raw_rows: bool = False
    matrix: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    tables: tuple[ReportTable, ...] = ()
    asymmetries: tuple[AsymmetryView, ...] = ()
    glance: Glance | None = None
    trend: Trend | None = None
    sources: tuple[tuple[int, int], ...] = ()  # (round id, release) of every set the report reads
    peers: PeerBenchmark | None = None

    @property
    def visible(self) -> bool:
        return self.table is not None

    def table_named(self, table_id: str) -> ReportTable | None:
        """One of :attr:`tables` by its id (``table4``, ``scores-table``, ``change-table`` ...)."""
        return next((t for t in self.tables if t.id == table_id), None)

    @property
    def rows_available(self) -> bool:
        """Whether row-level files hold rows: only with results of a final release."""
        return self.visible and self.publication.rows_allowed and self.anonymous is not None

    @property
    def withheld_note(self) -> str | None:
        """What the row-level files leave blank (``None`` with raw access or when nothing),
        each question by its name in the instrument."""
        if not self.rows_available or self.raw_rows or self.anonymous is None:
            return None
        # Questions by the names the report gives them ("organisation type"), not their ids.
        return self.anonymous.note({q.id: q.name for q in self.instrument.background})

    @property
    def rows_note(self) -> str | None:
        """Why row-level files hold no rows, when they do not."""
        if self.rows_available:
            return None
        if self.visible and self.publication.final:
            return (
                "This round was reopened, so these results give whole-round figures only: "
                "breakdowns and row-level files stay those of its first close (figures of a "
                "group in two releases would differ by the few who answered in between)."
            )
        if self.visible:
            return (
                "Interim results give whole-round figures only: breakdowns and row-level files "
                "appear with the final release, when the round closes."
            )
        return self.publication.headline()

    @cached_property
    def answers(self) -> pd.DataFrame:
        """The item answers fit to hand out (made when a download asks for them)."""
        if not self.rows_available or self.anonymous is None:
            return pd.DataFrame()
        return _export_answers(self.matrix, self.instrument, self.anonymous, raw=self.raw_rows)

    @cached_property
    def scores(self) -> pd.DataFrame:
        """Scale scores of :attr:`answers`, row for row."""
        if not self.rows_available:
            return pd.DataFrame()
        scores = scale_scores(self.answers, self.instrument)
        scores.insert(0, RESPONDENT_COLUMN, self.answers[RESPONDENT_COLUMN])
        return scores

    @cached_property
    def respondent_scores(self) -> pd.DataFrame:
        """:attr:`scores` as the files give them: favourable-keyed, each followed by its score
        in Table 4's printed direction where that runs the other way
        (:func:`analysis.summary.respondent_scores`)."""
        if not self.rows_available:
            return pd.DataFrame()
        return respondent_scores(self.scores, self.instrument)

    @property
    def all_cautions(self) -> list[str]:
        """Every caution the report gives under "Read these figures with care": the round's
        (few responses, the open link), then each scale's, named ("Ability behaviours:
        Cronbach's alpha is 0.667, below 0.70: ..."); the page, the PDF, the Word document
        and the workbook's Notes all list these."""
        return [
            *self.cautions,
            *(f"{r.name}: {caution}" for r in self.readings for caution in r.cautions),
        ]

    @cached_property
    def frequency_tables(self) -> dict[str, ReportTable]:
        """Each item's frequency table as the report shows it, by item id: one
        :func:`~analysis.report_tables.frequency_report_table` that the page, the PDF and the
        Word document all render."""
        return {t.item: frequency_report_table(t) for t in self.frequencies}

    @property
    def unscaled_frequencies(self) -> list[FrequencyTable]:
        """The frequency tables of items that are in no scale ("Items in no scale")."""
        scored = {item for scale in self.instrument.scales for item in scale.items}
        return [t for t in self.frequencies if t.item not in scored]

    def frequencies_of(self, items: tuple[str, ...]) -> list[FrequencyTable]:
        return [t for t in self.frequencies if t.item in items]


def _group_sizes(matrix: pd.DataFrame, question_id: str, instrument: Instrument) -> dict[str, int]:
    question = instrument.background_question(question_id)
    column = matrix[question_id]
    sizes = {o.value: int((column == o.value).sum()) for o in question.options}
    sizes[NOT_STATED] = int(column.isna().sum())
    return sizes


def _masked(table: Table4, group: str, view: AsymmetryView | None) -> Table4:
    """A group's Table 4 with the figures of every scale on which the group is hidden (fewer
    than the threshold scored on that scale, or hidden with them) left out."""
    if view is None:
        return table
    hidden = set()
    for summary in table.scales:
        cell = view.cell(summary.scale_id, group)
        if cell is not None and not cell.shown:
            hidden.add(summary.scale_id)
    return _without_scales(table, hidden)


def _alpha_over_threshold(
    table: Table4, rows: pd.DataFrame, instrument: Instrument, threshold: int
) -> Table4:
    """``table`` (of ``rows``) without the alpha of a scale fewer than ``threshold`` of those
    rows answered every item of: alpha is listwise, a figure of those respondents only."""
    scales = []
    for summary in table.scales:
        items = list(instrument.scale(summary.scale_id).items)
        complete = int(rows[items].notna().all(axis=1).sum())
        if summary.alpha is not None and complete < threshold:
            summary = replace(summary, alpha=None, alpha_ci=None)
        scales.append(summary)
    return replace(table, scales=tuple(scales))


def _without_scales(table: Table4, hidden: set[str]) -> Table4:
    """``table`` with no figure of the scales in ``hidden`` (their counts stay)."""
    scales = []
    for summary in table.scales:
        if summary.scale_id not in hidden:
            scales.append(summary)
            continue
        scales.append(
            replace(
                summary,
                alpha=None,
                alpha_ci=None,
                mean=math.nan,
                median=math.nan,
                mode=math.nan,
                multiple_modes=False,
                sd=math.nan,
                band=None,
                score=math.nan,
                score_ci=None,
                as_printed=None,
                favourable_figures=None,
            )
        )
    return replace(table, scales=tuple(scales))


def _breakdown(
    matrix: pd.DataFrame,
    instrument: Instrument,
    question_id: str,
    threshold: int,
    anonymous: KAnonymous,
    per_scale: AsymmetryView | None = None,
) -> Breakdown:
    """Table 4 by a background question's groups, with the suppression of
    :func:`analysis.disclosure.suppress_groups`. Groups are made from the answers as published
    in the row-level files (k-anonymous), so that every group shown is exactly the files' rows
    with its value and no difference of published sets is smaller than the threshold; a
    respondent whose answer the files withhold counts as "not stated or withheld". With
    ``per_scale`` (the question's asymmetry view), a scale on which a shown group is hidden
    (fewer than the threshold answered it) has no figures for that group."""
    question = instrument.background_question(question_id)
    matrix = matrix.assign(**{question_id: anonymous.frame[question_id]})
    visibility = suppress_groups(_group_sizes(matrix, question_id, instrument), threshold)
    shown = {v.group for v in visibility if v.shown}
    stated = matrix.assign(**{question_id: matrix[question_id].fillna(NOT_STATED)})
    tables = grouped_table4(stated[stated[question_id].isin(shown)], instrument, question_id)
    labels = {o.value: o.label for o in question.options} | {NOT_STATED: "Not stated or withheld"}
    published = {
        group: _alpha_over_threshold(
            _masked(table, group, per_scale),
            stated[stated[question_id] == group],
            instrument,
            threshold,
        )
        for group, table in tables.items()
    }
    groups = tuple(
        GroupResult(v.group, labels[v.group], v.shown, v.reason, published.get(v.group))
        for v in visibility
        if v.n > 0
    )
    return Breakdown(question_id, question.text, groups)


def quasi_identifiers(matrix: pd.DataFrame, instrument: Instrument) -> list[str]:
    """The choice-type background questions of the instrument (those a file may hold)."""
    return [q.id for q in instrument.background if q.kind == "choice" and q.id in matrix.columns]


def _export_answers(
    matrix: pd.DataFrame, instrument: Instrument, anonymous: KAnonymous, *, raw: bool
) -> pd.DataFrame:
    """Item answers fit to hand out: choice background only, k-anonymous over it (unless
    ``raw``), rows in an order that says nothing about when anyone answered, numbered 1..n."""
    background = list(anonymous.quasi_identifiers)
    source = matrix if raw else anonymous.frame
    answers = pd.concat([source[background], matrix[instrument.item_ids]], axis=1).reset_index(
        drop=True
    )
    answers = answers.sort_values(
        by=list(answers.columns), na_position="last", kind="mergesort"
    ).reset_index(drop=True)
    answers.insert(0, RESPONDENT_COLUMN, range(1, len(answers) + 1))
    return answers


def previous_round(session: Session, survey_round: SurveyRound) -> SurveyRound | None:
    """The partnership's round before this one on the same instrument (any version), if any."""
    listed = rounds.list_rounds(session, survey_round.partnership_id)
    ids = [r.id for r in listed]
    later = listed[ids.index(survey_round.id) + 1 :]
    same = [r for r in later if r.instrument_id == survey_round.instrument_id]
    return same[0] if same else None


def _trend(
    session: Session,
    survey_round: SurveyRound,
    instrument: Instrument,
    scores: pd.DataFrame,
    release: int,
) -> tuple[Trend | None, tuple[tuple[int, int], ...]]:
    """This round and every earlier round of the partnership, each as published (its latest
    release, if at or above its threshold), oldest first; ``None`` with fewer than two. Also
    the (round, release) pairs read, on which the report depends."""
    assert survey_round.id is not None
    listed = rounds.list_rounds(session, survey_round.partnership_id)
    ids = [r.id for r in listed]
    earlier = listed[ids.index(survey_round.id) + 1 :]
    points = [
        TrendRound(
            str(survey_round.id),
            survey_round.title,
            f"{survey_round.opens_on:%B %Y}",
            favourable_scores(scores, instrument),
            instrument,
        )
    ]
    read: list[tuple[int, int]] = [(survey_round.id, release)]
    for other in earlier:
        assert other.id is not None
        other_instrument = round_instrument(session, other)
        published = releases.publish(session, other)
        if not published.number:
            continue
        matrix = rounds.round_items_matrix(session, other.id, release=published.number)
        if not results_visible(len(matrix), other.anonymity_threshold):
            continue
        read.append((other.id, published.number))
        other_scores = releases.published_favourable_scores(
            session, other, other_instrument, published.number, matrix
        )
        points.append(
            TrendRound(
                str(other.id),
                other.title,
                f"{other.opens_on:%B %Y}",
                other_scores,
                other_instrument,
            )
        )
    if len(points) < 2:
        return None, tuple(read)
    return trend(list(reversed(points))), tuple(read)


def _change(
    session: Session, survey_round: SurveyRound, instrument: Instrument, scores: pd.DataFrame
) -> ChangeSection:
    before = previous_round(session, survey_round)
    if before is None or before.id is None:
        return ChangeSection(None, (), "This is the partnership's first round.")
    published = releases.publish(session, before)
    matrix = rounds.round_items_matrix(session, before.id, release=published.number)
    if not published.number or not results_visible(len(matrix), before.anonymity_threshold):
        return ChangeSection(
            before,
            (),
            "The previous round has no published results (fewer than "
            f"{before.anonymity_threshold} responses, or not yet released), so it cannot be "
            "compared.",
        )
    before_instrument = round_instrument(session, before)
    shared = comparable_scales(before_instrument, instrument)
    before_scores = releases.published_favourable_scores(
        session, before, before_instrument, published.number, matrix
    )
    changes = scale_changes(before_scores[shared], favourable_scores(scores, instrument)[shared])
    note = None
    if len(shared) < len(instrument.scales):
        note = (
            f"The previous round used version {before.instrument_version} of the questionnaire: "
            "only the scales made up alike in both versions are compared."
        )
    return ChangeSection(before, tuple(changes), note)


def round_report(
    session: Session, survey_round: SurveyRound, viewer: Viewer | None = None
) -> RoundReport:
    """The report of a round's published set (only the count when nothing is published).

    Makes the round's next release first when the rules allow (:func:`releases.publish`).
    ``viewer`` decides only whether row-level files skip the k-anonymity generalisation (an
    admin's raw-access grant); every figure is the same for every reader.
    """
    assert survey_round.id is not None
    instrument = round_instrument(session, survey_round)
    partnership = session.get(Partnership, survey_round.partnership_id)
    assert partnership is not None
    publication = releases.publish(session, survey_round)
    threshold = survey_round.anonymity_threshold
    if not publication.number:
        return RoundReport(
            partnership, survey_round, instrument, publication.submitted, threshold, publication
        )
    matrix = rounds.round_items_matrix(session, survey_round.id, release=publication.number)
    if not results_visible(len(matrix), threshold):
        return RoundReport(
            partnership, survey_round, instrument, publication.submitted, threshold, publication
        )
    # A scale scored for fewer than the threshold, or for fewer more or less than an earlier
    # release showed it with, shows no figure anywhere (only its count).
    scores, withheld = releases.published_scores(
        session, survey_round, instrument, publication.number, matrix
    )
    summary = _alpha_over_threshold(
        _without_scales(table4(matrix, instrument), withheld), matrix, instrument, threshold
    )
    anonymous: KAnonymous | None = None
    breakdowns: tuple[Breakdown, ...] = ()
    asymmetries: tuple[AsymmetryView, ...] = ()
    if publication.rows_allowed:
        identifying = quasi_identifiers(matrix, instrument)
        marked = [q.id for q in instrument.asymmetry_questions if q.id in identifying]
        keep = [q for q in instrument.breakdowns if q in identifying]
        keep += [q for q in marked if q not in keep]
        anonymous = k_anonymise(matrix, identifying, threshold, keep=keep)
        broken_down = [q for q in instrument.breakdowns if q in matrix.columns]
        # One check over every set the asymmetry views and the breakdowns publish, scale by
        # scale (a breakdown by a question the asymmetry view does not show is checked too).
        shown_views, per_scale = published_views(
            favourable_scores(scores, instrument),
            {q: anonymous.frame[q] for q in [*marked, *broken_down]},
            instrument,
            threshold,
            broken_down,
        )
        asymmetries = tuple(shown_views)
        breakdowns = tuple(
            _breakdown(matrix, instrument, q, threshold, anonymous, per_scale.get(q))
            for q in broken_down
        )
    open_link = releases.open_link_figures(session, publication)
    caution = open_link.caution()
    change = _change(session, survey_round, instrument, scores)
    profile = tuple(trust_profile(summary, instrument))
    benchmark = peers.peer_benchmark(session, survey_round, instrument, summary)
    tables = [
        table4_table(summary, instrument),
        scores_table(summary, instrument, benchmark.positions),
    ]
    tables += profile_tables(profile, instrument)
    if change.changes and change.previous is not None:
        tables.append(change_table(change.changes, instrument, change.previous.title))
    tables += [asymmetry_table(view, instrument) for view in asymmetries]
    series, sources = _trend(session, survey_round, instrument, scores, publication.number)
    if series is not None:
        tables.append(trend_table(series, instrument))
    readings = tuple(read_table4(summary, instrument, benchmark.positions))
    summary_first = glance(
        readings,
        instrument,
        changes=change.changes,
        previous_title=change.previous.title if change.changes and change.previous else None,
        asymmetries=asymmetries,
    )
    return RoundReport(
        partnership=partnership,
        survey_round=survey_round,
        instrument=instrument,
        n_responses=len(matrix),
        threshold=threshold,
        publication=publication,
        table=summary,
        readings=readings,
        profile=profile,
        frequencies=tuple(item_frequency_tables(matrix, instrument, include_empty=True)),
        cautions=(*round_cautions(len(matrix)), *([caution] if caution else [])),
        breakdowns=breakdowns,
        change=change,
        open_link=open_link,
        anonymous=anonymous,
        raw_rows=bool(viewer and viewer.raw_access),
        matrix=matrix,
        tables=tuple(tables),
        asymmetries=asymmetries,
        glance=summary_first,
        trend=series,
        sources=(*sources, *benchmark.sources),
        peers=benchmark,
    )


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
