"""Invitation links: personal single-use links and one open link per round, and resume codes.

A link's token is shown once, when it is made; only its SHA-256 hash is stored.

Whoever holds a personal link (the coordinator downloads them all) must not be able to read or
change the answers saved with it.  So starting a link gives the respondent a second secret, a
short resume code that only they see: only its hash is stored.  Once a link is started,
reading its draft, changing it and submitting it need the code (the browser that started it
keeps it in a signed cookie); wrong codes are counted per link and limited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.models import Invitation, InvitationKind, InvitationStatus
from app.security import hash_link_token, new_link_token
from app.services import audit
from app.services.audit import COMMAND_LINE_ACTOR, Actor, AuditAction
from app.services.errors import (
    FieldValidationError,
    RecordNotFoundError,
    ResumeCodeError,
    TooManyResumeCodesError,
)
from app.services.partnerships import get_organisation
from app.services.rate_limits import RateLimiter
from app.services.rounds import get_round, require_open

# No 0/O, 1/I/L: read aloud or copied by hand without mistakes.  31**10 is about 2**49.5.
RESUME_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RESUME_CODE_LENGTH = 10
RESUME_CODE_GROUP = 5


def create_personal_links(
    session: Session,
    round_id: int,
    *,
    organisation_id: int | None,
    count: int,
    most: int,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> list[str]:
    """Make ``count`` personal links for a round (and organisation); returns their tokens."""
    survey_round = get_round(session, round_id)
    if not 1 <= count <= most:
        raise FieldValidationError({"count": f"must be from 1 to {most}"})
    if organisation_id is not None:
        get_organisation(session, survey_round.partnership_id, organisation_id)
    tokens = [new_link_token() for _ in range(count)]
    session.add_all(
        Invitation(
            round_id=round_id,
            organisation_id=organisation_id,
            kind=InvitationKind.PERSONAL,
            token_hash=hash_link_token(token),
        )
        for token in tokens
    )
    audit.record(
        session,
        actor,
        AuditAction.LINKS_MADE,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail=f"{count} personal"
        + (f" for organisation {organisation_id}" if organisation_id is not None else ""),
        commit=False,
    )
    session.commit()
    return tokens


def _open_link_token(signing_key: str, seed: str) -> str:
    """An open link's token from the server's key and the link's stored seed."""
    digest = hmac.new(signing_key.encode(), f"open-link:{seed}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def _live_open_links(session: Session, round_id: int) -> list[Invitation]:
    return list(
        session.exec(
            select(Invitation).where(
                Invitation.round_id == round_id,
                Invitation.kind == InvitationKind.OPEN,
                Invitation.status != InvitationStatus.REVOKED,
            )
        )
    )


def has_open_link(session: Session, round_id: int) -> bool:
    """Whether the round has an open link that works."""
    return bool(_live_open_links(session, round_id))


def create_open_link(
    session: Session,
    round_id: int,
    token: str | None = None,
    *,
    signing_key: str | None = None,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> str:
    """Make the round's open link, revoking any earlier one; returns its token.

    With ``signing_key``, the token is derived from the key and a random seed stored with the
    link, so that :func:`current_open_link` can show it again (an open link is meant to be
    passed around; the database alone still does not give it away).
    """
    survey_round = get_round(session, round_id)
    replaced = 0
    for invitation in _live_open_links(session, round_id):
        invitation.status = InvitationStatus.REVOKED
        session.add(invitation)
        replaced += 1
    seed: str | None = None
    if token is None and signing_key is not None:
        seed = secrets.token_hex(32)
        token = _open_link_token(signing_key, seed)
    token = token or new_link_token()
    session.add(
        Invitation(
            round_id=round_id,
            kind=InvitationKind.OPEN,
            token_hash=hash_link_token(token),
            link_seed=seed,
        )
    )
    audit.record(
        session,
        actor,
        AuditAction.LINKS_MADE,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail="open link, replacing the earlier one" if replaced else "open link",
        commit=False,
    )
    session.commit()
    return token


def current_open_link(session: Session, round_id: int, signing_key: str) -> str | None:
    """The token of the round's working open link, if it can be shown again (it was made
    with this server's key); else ``None``."""
    for invitation in _live_open_links(session, round_id):
        if invitation.link_seed is None:
            continue
        token = _open_link_token(signing_key, invitation.link_seed)
        if hmac.compare_digest(hash_link_token(token), invitation.token_hash):
            return token
    return None


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The live invitation of a link token; revoked and unknown links are not found."""
    if not token or len(token) > 200:
        raise RecordNotFoundError("link", "")
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == hash_link_token(token))
    ).first()
    if invitation is None or invitation.status == InvitationStatus.REVOKED:
        raise RecordNotFoundError("link", "")
    return invitation


def start_from_open_link(
    session: Session, open_invitation: Invitation, organisation_id: int | None
) -> tuple[str, str]:
    """Give one respondent of an open link a personal link of their own, started, so they can
    resume; returns its token and resume code.  The link is marked as from the open link."""
    survey_round = get_round(session, open_invitation.round_id)
    require_open(survey_round)
    if organisation_id is not None:
        get_organisation(session, survey_round.partnership_id, organisation_id)
    token = new_link_token()
    invitation = Invitation(
        round_id=open_invitation.round_id,
        organisation_id=organisation_id,
        kind=InvitationKind.PERSONAL,
        token_hash=hash_link_token(token),
        from_open_link=True,
    )
    code = new_resume_code()
    invitation.status = InvitationStatus.STARTED
    invitation.resume_code_hash = hash_resume_code(invitation, code)
    session.add(invitation)
    session.commit()
    return token, code


def new_resume_code() -> str:
    """A random resume code, grouped for reading: ``7KQ4M-X9TRE``."""
    code = "".join(secrets.choice(RESUME_CODE_ALPHABET) for _ in range(RESUME_CODE_LENGTH))
    return "-".join(
        code[start : start + RESUME_CODE_GROUP]
        for start in range(0, RESUME_CODE_LENGTH, RESUME_CODE_GROUP)
    )


def normalised_resume_code(text: str) -> str:
    """A typed resume code without spaces, dashes or case: ``7kq4m x9tre`` -> ``7KQ4MX9TRE``."""
    return "".join(ch for ch in text.upper() if ch not in " -\t\u00a0")[:64]


def hash_resume_code(invitation: Invitation, code: str) -> str:
    """The SHA-256 of a resume code, salted with its link's token hash."""
    return resume_code_hash(invitation.token_hash, code)


def resume_code_hash(token_hash: str, code: str) -> str:
    """The SHA-256 of a resume code, salted with the token hash of its link."""
    message = f"{token_hash}:{normalised_resume_code(code)}"
    return hashlib.sha256(message.encode("utf-8", errors="surrogateescape")).hexdigest()


def is_resume_code(text: str) -> bool:
    """Whether ``text`` has the form of a resume code (any case, grouped or not)."""
    code = normalised_resume_code(text)
    return len(code) == RESUME_CODE_LENGTH and all(ch in RESUME_CODE_ALPHABET for ch in code)


def is_started(invitation: Invitation) -> bool:
    """Whether the link has been started (or used): its draft is then the respondent's alone.

    Started and submitted links are alike to whoever holds only the link.
    """
    return invitation.status != InvitationStatus.UNUSED or invitation.resume_code_hash is not None


def resume_code_fits(invitation: Invitation, code: str | None) -> bool:
    """Whether ``code`` is the link's resume code (no counting: for codes the app signed)."""
    if code is None or invitation.resume_code_hash is None:
        return False
    return hmac.compare_digest(hash_resume_code(invitation, code), invitation.resume_code_hash)


def require_resume_code(
    session: Session, invitation: Invitation, code: str | None, limiter: RateLimiter | None
) -> None:
    """Let a started link's draft be read, changed or submitted only with its resume code.

    Parameters
    ----------
    session : Session
        The request's session.  Before the limiter is asked (on a connection of its own), the
        session's read-only transaction is ended, so that one request never holds two of the
        pool's connections at once (which starves the pool under load).
    invitation : Invitation
        A personal link.  Unused links need no code (there is nothing saved to protect).
    code : str or None
        The code as the respondent typed it, or as the app signed it into the browser's cookie.
    limiter : RateLimiter or None
        Counts wrong codes per link (and refuses while too many were tried).  ``None`` for a
        code the app signed itself, which needs no counting.

    Raises
    ------
    ResumeCodeError
        No code, or a wrong one (counted).
    TooManyResumeCodesError
        Too many wrong codes for this link lately; even the right one waits.
    """
    if not is_started(invitation):
        return
    if code is None or not normalised_resume_code(code):
        raise ResumeCodeError(given=False)
    if limiter is not None:
        check = [(limiter.policy.resume_code_per_link, str(invitation.id))]
        fits = resume_code_fits(invitation, code)
        if session.in_transaction():
            session.rollback()  # nothing is written before the code is checked
        refusal = limiter.refusal(check)
        if refusal is not None:
            raise TooManyResumeCodesError(refusal.retry_after)
        if not fits:
            limiter.count_failure(check)
            raise ResumeCodeError(given=True)
    elif not resume_code_fits(invitation, code):
        raise ResumeCodeError(given=True)


def code_to_start_with(proposed: str | None) -> str:
    """The resume code a link is started with: a new one, or the one an API client proposed
    (which must have the form of a code)."""
    if proposed is not None and not is_resume_code(proposed):
        raise FieldValidationError(
            {
                "X-Resume-Code": f"must be {RESUME_CODE_LENGTH} letters and digits from "
                f"{RESUME_CODE_ALPHABET} (to start a link with a code of your own), or left out"
            },
            location=("header",),
        )
    return new_resume_code() if proposed is None else proposed


def start_link(session: Session, invitation: Invitation, proposed: str | None = None) -> str | None:
    """Start an unused personal link: mark it started with a resume code, and return the code
    (shown once to the respondent; only its hash is kept), or ``None`` if another request
    started or used the link first.

    The code is new, unless an API client proposed one of its own (so that it can retry a
    first save whose answer it never got); it must have the form of a code.  A conditional
    UPDATE, in the caller's transaction (the caller commits).
    """
    code = code_to_start_with(proposed)
    code_hash = hash_resume_code(invitation, code)
    started = session.connection().execute(
        sa.update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.status) == InvitationStatus.UNUSED,
            col(Invitation.resume_code_hash).is_(None),
        )
        .values(status=InvitationStatus.STARTED, resume_code_hash=code_hash)
        .execution_options(synchronize_session=False)
    )
    if started.rowcount != 1:
        return None
    set_committed_value(invitation, "status", InvitationStatus.STARTED)
    set_committed_value(invitation, "resume_code_hash", code_hash)
    return code
