"""Sub-commands of the survey service: ``db upgrade|downgrade|current``, ``serve``,
``user add|list|invite|disable|enable|remove|roles|grant|revoke|reset-password``,
``user grant-raw-access``, ``user revoke-raw-access``, ``user second-factor-off`` and
``token create|list|revoke``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING, Any

from app.cli import CommandError

if TYPE_CHECKING:
    from app.services.demo import DemoSeed
    from app.settings import Settings


def _settings() -> Settings:
    from app.settings import SettingsError, load_settings  # imported when a command runs

    try:
        return load_settings()
    except SettingsError as error:
        raise CommandError(f"bad setting: {error}") from None


def _db_upgrade(args: argparse.Namespace) -> int:
    from app import migrating

    settings = _settings()
    migrating.upgrade(settings.database_url, args.revision)
    print(f"trust-survey db upgrade: database at {args.revision}")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    from app import migrating

    migrating.downgrade(_settings().database_url, args.revision)
    print(f"trust-survey db downgrade: database at {args.revision}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from app import migrating
    from app.database import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        current = migrating.current_revisions(engine)
    finally:
        engine.dispose()
    heads = migrating.head_revisions(settings.database_url)
    state = "up to date" if current == heads else "needs `trust-survey db upgrade`"
    print(f"{', '.join(sorted(current)) or 'empty'} (head: {', '.join(sorted(heads))}; {state})")
    return 0


def _print_demo(seed: DemoSeed, base: str) -> None:
    print("Demo partnership " + ("seeded" if seed.created else "already there"), end="")
    print(f" with {seed.responses} submitted responses.")
    renew = "trust-survey serve --demo --new-demo-secrets"
    if seed.respondent_token is None or seed.coordinator_password is None:
        print(f"  Sign in:         {base}/sign-in  (e-mail {seed.coordinator_email})")
        print("  Its links and password are random and were printed once, when they were made")
        print(f"  (only their hashes are kept). For new ones: {renew}")
    else:
        print(f"  Respondent link:   {base}/s/{seed.respondent_token}")
        print(f"  Open link:         {base}/s/{seed.open_token}")
        print(f"  Sign in:         {base}/sign-in")
        print(f"    e-mail {seed.coordinator_email}  password {seed.coordinator_password}")
        print("  Random, and shown only this once. For new ones (the old open link and password")
        print(f"  then stop working): {renew}")
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlmodel import Session

    from app.database import make_engine
    from app.main import create_app
    from app.migrating import DatabaseNotMigratedError, require_migrated
    from app.services.demo import seed_demo

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        require_migrated(engine, settings.database_url)
    except DatabaseNotMigratedError as error:
        raise CommandError(str(error)) from None
    if args.demo or args.new_demo_secrets:
        if settings.is_production:
            raise CommandError("--demo is refused when ENVIRONMENT=production")
        with Session(engine, expire_on_commit=False) as session:
            seed = seed_demo(
                session,
                instrument_id=settings.instrument,
                anonymity_threshold=settings.anonymity_threshold,
                new_secrets=args.new_demo_secrets,
            )
        shown_host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104  # nosec B104
        _print_demo(seed, settings.public_base_url or f"http://{shown_host}:{args.port}")
    engine.dispose()
    # No access log: it would record respondents' IP addresses and link tokens.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False)
    return 0


def _password(args: argparse.Namespace, prompt: str) -> str:
    password = os.environ.get("TRUST_SURVEY_PASSWORD") if args.password_from_env else None
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(prompt)
    return password


def _token(args: argparse.Namespace) -> int:
    """``token create|list|revoke``: the account holder's own tokens, after their password."""
    from sqlmodel import Session

    from app.database import make_engine
    from app.models import AccountRole
    from app.services import api_tokens
    from app.services.accounts import authenticate
    from app.services.errors import SurveyServiceError

    settings = _settings()
    password = _password(args, f"Password of {args.email}: ")
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            account = authenticate(session, args.email, password, roles=set(AccountRole))
            if account is None:
                raise CommandError("the e-mail address or password is not right")
            if args.what == "create":
                made = api_tokens.create_token(session, account, args.name, settings.signing_key())
                print(f"trust-survey token create: token {made.record.id} ({made.record.name}):")
                print(made.token)
                print("Shown only this once: only a keyed hash of it is kept.")
            elif args.what == "list":
                for token in api_tokens.list_tokens(session, account):
                    state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "live"
                    print(
                        f"{token.id}\t{token.prefix}...\t{token.created_at:%Y-%m-%d %H:%M}"
                        f"\t{state}\t{token.name}"
                    )
            else:
                revoked = api_tokens.revoke_token(session, account, args.id)
                print(f"trust-survey token revoke: token {revoked.id} ({revoked.name}) revoked")
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    return 0


def _user_add(args: argparse.Namespace) -> int:
    """Add an account with a password; an address that already has one gets the roles and
    partnerships added (its password unchanged), as ``user invite`` does."""
    from sqlmodel import Session

    from app.database import make_engine
    from app.services import account_management
    from app.services.accounts import add_account, coordinator_by_email
    from app.services.audit import COMMAND_LINE_ACTOR
    from app.services.errors import SurveyServiceError

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            existing = coordinator_by_email(session, args.email)
            if existing is not None:
                added = account_management.invite(
                    session,
                    COMMAND_LINE_ACTOR,
                    args.email,
                    args.role or list(existing.role_set),
                    _partnership_ids(session, args.partnership),
                    _link_base(settings),
                    settings.account_link_hours,
                )
                print(
                    f"trust-survey user add: {added.account.email} already had an account: it "
                    f"is now {added.account.role_words}, with the partnerships given added "
                    "(its password is unchanged)"
                )
                return 0
            password = _password(args, "Password (12 characters or more): ")
            account = add_account(
                session,
                args.email,
                password,
                args.role or ["coordinator"],
                partnership_names=args.partnership,
            )
            granted = f"; partnerships: {', '.join(args.partnership)}" if args.partnership else ""
            print(f"trust-survey user add: added {account.email} ({account.role_words}{granted})")
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    return 0


def _user_raw_access(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.database import make_engine
    from app.services import raw_access
    from app.services.errors import SurveyServiceError

    engine = make_engine(_settings().database_url)
    try:
        with Session(engine) as session:
            if args.user_command == "grant-raw-access":
                grant = raw_access.grant_raw_access(
                    session, args.email, reason=args.reason, granted_by=args.by
                )
                print(
                    f"trust-survey user grant-raw-access: {args.email} may download row-level "
                    f"files without k-anonymity (granted by {args.by} at "
                    f"{grant.created_at:%Y-%m-%d %H:%M} UTC: {grant.reason})"
                )
            elif raw_access.revoke_raw_access(session, args.email):
                print(f"trust-survey user revoke-raw-access: {args.email} has no raw access now")
            else:
                print(f"trust-survey user revoke-raw-access: {args.email} had no raw access")
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    return 0


ROLE_NAMES = ["admin", "coordinator", "evaluator", "analyst"]


def _link_base(settings: Settings) -> str:
    """Where the links of e-mails sent from the command line start: PUBLIC_BASE_URL (which
    production requires), else ``trust-survey serve``'s default address."""
    return (settings.public_base_url or "http://127.0.0.1:8000").rstrip("/")


def _partnership_ids(session: Any, names: list[str]) -> list[int]:
    from sqlmodel import select

    from app.models import Partnership

    ids: list[int] = []
    for name in dict.fromkeys(n.strip() for n in names):
        found = session.exec(select(Partnership).where(Partnership.name == name)).first()
        if found is None or found.id is None:
            raise CommandError(f"no partnership called {name!r}")
        ids.append(found.id)
    return ids


def _user_manage(args: argparse.Namespace) -> int:
    """``user list|invite|disable|enable|remove|roles|grant|revoke|reset-password``; the
    audit trail names the actor "command line"."""
    from sqlmodel import Session

    from app.database import make_engine
    from app.services import account_links, account_management
    from app.services.audit import COMMAND_LINE_ACTOR
    from app.services.errors import SurveyServiceError

    settings = _settings()
    command = f"trust-survey user {args.user_command}"
    actor = COMMAND_LINE_ACTOR
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            what = args.user_command
            if what == "list":
                partnership = (
                    _partnership_ids(session, [args.partnership])[0] if args.partnership else None
                )
                for row in account_management.list_accounts(
                    session, role=args.role, partnership_id=partnership, text=args.text or ""
                ):
                    print(
                        f"{row.account.id}\t{row.account.email}\t{row.account.roles}"
                        f"\t{row.state}\t{row.partnership_names}"
                    )
                return 0
            if what == "invite":
                invited = account_management.invite(
                    session,
                    actor,
                    args.email,
                    args.role or ["coordinator"],
                    _partnership_ids(session, args.partnership),
                    _link_base(settings),
                    settings.account_link_hours,
                )
                done = "invited" if invited.created else "added roles and partnerships to"
                mail = (
                    "; an e-mail with a link to set a password is queued (the worker sends it)"
                    if invited.mailed
                    else ""
                )
                who = f"{invited.account.email} ({invited.account.role_words})"
                print(f"{command}: {done} {who}{mail}")
                return 0
            account = account_management.account_named(session, args.email)
            assert account.id is not None
            if what == "disable":
                account_management.disable(session, actor, account.id)
                print(f"{command}: {account.email} is disabled and signed out everywhere")
            elif what == "enable":
                account_management.enable(session, actor, account.id)
                print(f"{command}: {account.email} is enabled")
            elif what == "remove":
                account_management.remove(session, actor, account.id)
                print(f"{command}: {account.email} is removed")
            elif what == "roles":
                changed = account_management.set_roles(session, actor, account.id, args.role)
                print(f"{command}: {changed.email} is now {changed.role_words}")
            elif what == "grant":
                for partnership_id in _partnership_ids(session, args.partnership):
                    account_management.add_grant(session, actor, account.id, partnership_id)
                print(f"{command}: {account.email} is granted {', '.join(args.partnership)}")
            elif what == "revoke":
                for partnership_id in _partnership_ids(session, args.partnership):
                    account_management.remove_grant(session, actor, account.id, partnership_id)
                print(
                    f"{command}: {account.email} is no longer granted {', '.join(args.partnership)}"
                )
            else:
                account_links.send_reset_link(
                    session, actor, account, _link_base(settings), settings.account_link_hours
                )
                print(
                    f"{command}: an e-mail with a link to set a new password for {account.email} "
                    "is queued (the worker sends it)"
                )
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    return 0


def _user_second_factor_off(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.database import make_engine
    from app.services import second_factor
    from app.services.errors import SurveyServiceError

    engine = make_engine(_settings().database_url)
    try:
        with Session(engine) as session:
            account = second_factor.reset_from_command_line(session, args.email)
            print(
                f"trust-survey user second-factor-off: {account.email} has no second factor now "
                "and has been signed out everywhere; if a role requires one, it is set up again "
                "at the next sign-in"
            )
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``db``, ``serve``, ``user`` and ``token``."""
    db = subparsers.add_parser("db", help="migrate the database (Alembic)")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations (default: to the newest)")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(handler=_db_upgrade)
    downgrade = db_commands.add_parser("downgrade", help="undo migrations")
    downgrade.add_argument("--revision", default="-1", help="'base' undoes all (default: -1)")
    downgrade.set_defaults(handler=_db_downgrade)
    current = db_commands.add_parser("current", help="show the database's revision")
    current.set_defaults(handler=_db_current)

    serve = subparsers.add_parser("serve", help="serve the survey on HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo partnership (once) and print a respondent link, an open link and "
        "the demo coordinator's password (random, shown only when seeded)",
    )
    serve.add_argument(
        "--new-demo-secrets",
        action="store_true",
        help="with --demo: print a new respondent link, open link and password (the old open "
        "link and password stop working)",
    )
    serve.set_defaults(handler=_serve)

    user = subparsers.add_parser(
        "user", help="accounts: admins, coordinators, evaluators, analysts"
    )
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser(
        "add", help="add an account; the password is asked for, or read from stdin"
    )
    add.add_argument("email")
    add.add_argument(
        "--role",
        action="append",
        choices=["admin", "coordinator", "evaluator", "analyst"],
        help="repeat for more than one (default: coordinator). admin: everything; "
        "coordinator: runs rounds; evaluator: reads the reports of the partnerships granted "
        "with --partnership; analyst: every partnership's reports, pooled figures and (once "
        "granted with grant-raw-access) raw row-level exports",
    )
    add.add_argument(
        "--partnership",
        action="append",
        default=[],
        metavar="NAME",
        help="grant this partnership (by its exact name); repeat for more",
    )
    add.add_argument(
        "--password-from-env",
        action="store_true",
        help="read the password from TRUST_SURVEY_PASSWORD",
    )
    add.set_defaults(handler=_user_add)
    grant = user_commands.add_parser(
        "grant-raw-access",
        help="let an analyst (or admin) download row-level files without k-anonymity "
        "(recorded: who granted it, when and why)",
    )
    grant.add_argument("email", help="the analyst's account")
    grant.add_argument("--reason", required=True, help="why raw access is needed")
    grant.add_argument("--by", required=True, metavar="ADMIN_EMAIL", help="the granting admin")
    grant.set_defaults(handler=_user_raw_access)
    revoke = user_commands.add_parser(
        "revoke-raw-access", help="end an account's raw access to row-level files"
    )
    revoke.add_argument("email")
    revoke.set_defaults(handler=_user_raw_access)
    _register_management(user_commands)
    factor_off = user_commands.add_parser(
        "second-factor-off",
        help="turn an account's second factor off (a lost phone); recorded in the audit trail",
    )
    factor_off.add_argument("email")
    factor_off.set_defaults(handler=_user_second_factor_off)

    token = subparsers.add_parser(
        "token",
        help="your personal API tokens (Authorization: Bearer): make, list, revoke; "
        "your password is asked for, or read from stdin",
    )
    token_commands = token.add_subparsers(dest="what", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="make a token (shown once)")
    create.add_argument("email", help="your account")
    create.add_argument("--name", required=True, help="what it is for, to tell it apart")
    listing = token_commands.add_parser("list", help="your tokens (never the tokens themselves)")
    listing.add_argument("email", help="your account")
    revoke_token = token_commands.add_parser("revoke", help="revoke a token (refused at once)")
    revoke_token.add_argument("email", help="your account")
    revoke_token.add_argument("id", type=int, help="the token's number, as `token list` shows")
    for command in (create, listing, revoke_token):
        command.add_argument(
            "--password-from-env",
            action="store_true",
            help="read your password from TRUST_SURVEY_PASSWORD",
        )
        command.set_defaults(handler=_token)


def _register_management(user_commands: argparse._SubParsersAction[Any]) -> None:
    listing = user_commands.add_parser("list", help="list accounts: id, e-mail, roles, state")
    listing.add_argument("--role", choices=ROLE_NAMES, help="only accounts with this role")
    listing.add_argument("--partnership", metavar="NAME", help="only accounts granted it")
    listing.add_argument("--text", help="only addresses holding this text")
    invite = user_commands.add_parser(
        "invite",
        help="invite by e-mail: an account without a password, and a queued e-mail with a "
        "link to set one (an existing account gets the roles and partnerships added)",
    )
    invite.add_argument("email")
    invite.add_argument("--role", action="append", choices=ROLE_NAMES, help="repeat for more")
    invite.add_argument("--partnership", action="append", default=[], metavar="NAME")
    for name, text in (
        ("disable", "disable an account: signed out everywhere, password and tokens refused"),
        ("enable", "enable a disabled account"),
        ("remove", "remove an account with its grants, sessions and tokens"),
        ("reset-password", "queue an e-mail with a link to set a new password"),
    ):
        command = user_commands.add_parser(name, help=text)
        command.add_argument("email")
    roles = user_commands.add_parser("roles", help="set an account's roles (all of them)")
    roles.add_argument("email")
    roles.add_argument("--role", action="append", required=True, choices=ROLE_NAMES)
    for name, text in (
        ("grant", "let an account see a partnership"),
        ("revoke", "end an account's grant of a partnership"),
    ):
        command = user_commands.add_parser(name, help=text)
        command.add_argument("email")
        command.add_argument("--partnership", action="append", required=True, metavar="NAME")
    for command in (listing, invite, roles):
        command.set_defaults(handler=_user_manage)
    for name in ("disable", "enable", "remove", "reset-password", "grant", "revoke"):
        user_commands.choices[name].set_defaults(handler=_user_manage)
