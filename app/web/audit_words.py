"""The audit trail in words for the admins who read it: every action's label, and a line's
detail with the values the services record (kinds such as ``local-authority``, release
policies such as ``at-close``, an instrument's id) said as the pages say them.

The trail itself and its CSV export keep the raw values: they are what the filters, the API
(``GET /api/v1/admin/audit``) and any script that reads the export match on, and they never
change with a page's wording.  Only the page (``/admin/audit``) shows these words.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.models import AccountLinkPurpose, ReleasePolicy
from app.services.audit import AuditAction

ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.SIGN_IN: "Signed in",
    AuditAction.SIGN_IN_FAILED: "Sign-in refused",
    AuditAction.SIGN_OUT: "Signed out",
    AuditAction.SECOND_FACTOR_FAILED: "Security code refused",
    AuditAction.PASSWORD_CHANGED: "Password changed",
    AuditAction.PASSWORD_RESET_REQUESTED: "New password asked for",
    AuditAction.ACCOUNT_INVITED: "Account invited",
    AuditAction.ACCOUNT_ADDED: "Account added",
    AuditAction.ACCOUNT_DISABLED: "Account disabled",
    AuditAction.ACCOUNT_ENABLED: "Account enabled again",
    AuditAction.ACCOUNT_REMOVED: "Account removed",
    AuditAction.ROLES_CHANGED: "Roles changed",
    AuditAction.GRANT_ADDED: "Partnership access given",
    AuditAction.GRANT_REMOVED: "Partnership access removed",
    AuditAction.SECOND_FACTOR_SET_UP: "Second factor set up",
    AuditAction.SECOND_FACTOR_TURNED_OFF: "Second factor turned off",
    AuditAction.SECOND_FACTOR_POLICY_CHANGED: "Who needs a second factor changed",
    AuditAction.API_TOKEN_MADE: "API token made",
    AuditAction.API_TOKEN_REVOKED: "API token revoked",
    AuditAction.RAW_ACCESS_GRANTED: "Raw answers access given",
    AuditAction.RAW_ACCESS_REVOKED: "Raw answers access taken away",
    AuditAction.PARTNERSHIP_ADDED: "Partnership added",
    AuditAction.PARTNERSHIP_RENAMED: "Partnership renamed",
    AuditAction.PARTNERSHIP_DELETED: "Partnership deleted",
    AuditAction.ORGANISATION_ADDED: "Organisation added",
    AuditAction.ORGANISATION_RENAMED: "Organisation renamed",
    AuditAction.ORGANISATION_REMOVED: "Organisation removed",
    AuditAction.ROUND_ADDED: "Round added",
    AuditAction.ROUND_OPENED: "Round opened",
    AuditAction.ROUND_CLOSED: "Round closed",
    AuditAction.ROUND_REOPENED: "Round reopened",
    AuditAction.ROUND_EXTENDED: "Round extended",
    AuditAction.ROUND_RENAMED: "Round renamed",
    AuditAction.ROUND_DELETED: "Round deleted",
    AuditAction.THRESHOLD_CHANGED: "Anonymity threshold changed",
    AuditAction.RELEASE_POLICY_CHANGED: "When results are published changed",
    AuditAction.RESULTS_RELEASED: "Results published",
    AuditAction.LINKS_MADE: "Survey links made",
    AuditAction.PARTICIPANTS_ADDED: "Participants added",
    AuditAction.INVITATIONS_SENT: "Invitations or reminders queued",
    AuditAction.INSTRUMENT_ADDED: "Questionnaire added",
    AuditAction.REPORT_VIEWED: "Report read",
    AuditAction.ANALYSIS_RUN: "Pooled analysis run",
    AuditAction.FILE_DOWNLOADED: "File downloaded",
    AuditAction.RAW_ANSWERS_DOWNLOADED: "Raw answers downloaded",
    AuditAction.AUDIT_EXPORTED: "Audit trail downloaded",
    AuditAction.PURGED: "Old data deleted (retention)",
}

RELEASE_POLICY_WORDS = {
    ReleasePolicy.AT_CLOSE.value: "results when the round closes",
    ReleasePolicy.INTERIM.value: "interim results while it is open",
}
LINK_PURPOSE_WORDS = {
    AccountLinkPurpose.INVITATION.value: "an invitation",
    AccountLinkPurpose.PASSWORD_RESET.value: "a forgotten password",
}
REPORT_FORM_WORDS = {"page": "on the page", "JSON": "as JSON, through the API"}
# Lines whose detail is "before -> after".
CHANGES = {
    AuditAction.PARTNERSHIP_RENAMED,
    AuditAction.ORGANISATION_RENAMED,
    AuditAction.ROUND_RENAMED,
    AuditAction.THRESHOLD_CHANGED,
    AuditAction.RELEASE_POLICY_CHANGED,
}
KINDS = {AuditAction.PARTNERSHIP_ADDED, AuditAction.ORGANISATION_ADDED}


def action_label(action: str) -> str:
    """An action's label; a value no longer an action (an older trail's) as it was stored."""
    try:
        return ACTION_LABELS[AuditAction(action)]
    except ValueError:
        return action[:1].upper() + action[1:]


def _round_added(detail: str, titles: Mapping[str, str]) -> str:
    """``trustworthy-collaboration 2026.1, threshold 5, at-close`` in words."""
    parts = detail.split(", ")
    if len(parts) != 3 or not parts[1].startswith("threshold ") or " " not in parts[0]:
        return detail
    instrument_id, version = parts[0].rsplit(" ", 1)
    title = titles.get(instrument_id, instrument_id)
    policy = RELEASE_POLICY_WORDS.get(parts[2], parts[2])
    return f"{title}, version {version}; anonymity threshold {parts[1][10:]}; {policy}"


def detail_words(
    action: str, detail: str, kinds: Mapping[str, str], titles: Mapping[str, str]
) -> str:
    """A line's detail as the page shows it.  ``kinds``: the labels of partnership and
    organisation kinds, ``titles``: instruments' titles, both by the value recorded."""
    try:
        known = AuditAction(action)
    except ValueError:
        return detail
    if known in KINDS:
        return kinds.get(detail, detail)
    if known == AuditAction.ROUND_ADDED:
        return _round_added(detail, titles)
    if known in CHANGES and detail.count(" -> ") == 1:
        before, after = detail.split(" -> ")
        if known == AuditAction.RELEASE_POLICY_CHANGED:
            before = RELEASE_POLICY_WORDS.get(before, before)
            after = RELEASE_POLICY_WORDS.get(after, after)
        return f"from {before} to {after}"
    if known == AuditAction.REPORT_VIEWED:
        return REPORT_FORM_WORDS.get(detail, detail)
    if known == AuditAction.PASSWORD_CHANGED and detail.startswith("through an e-mailed link ("):
        purpose = detail.removeprefix("through an e-mailed link (").removesuffix(")")
        if purpose in LINK_PURPOSE_WORDS:
            return f"through the e-mailed link of {LINK_PURPOSE_WORDS[purpose]}"
    if known == AuditAction.RAW_ANSWERS_DOWNLOADED and detail == "not k-anonymised":
        return "with raw access: small groups not hidden"
    return detail
