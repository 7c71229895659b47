"""E-mail addresses as people type them: one check, used by the participant lists and the
mail backends."""

from __future__ import annotations

import re

MAX_ADDRESS_LENGTH = 254
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def normalised_address(text: str) -> str:
    """An address without surrounding spaces, its domain in lower case."""
    local, at, domain = text.strip().rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else text.strip()


def email_address_problem(text: str) -> str | None:
    """What is wrong with an e-mail address, or None: ``name@example.nhs.uk``."""
    address = text.strip()
    if not address:
        return "it is blank"
    if len(address) > MAX_ADDRESS_LENGTH:
        return f"it is longer than {MAX_ADDRESS_LENGTH} characters"
    if any(ch.isspace() for ch in address) or any(ord(ch) < 32 for ch in address):
        return "it contains a space or a control character"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "it needs a name, an @ and a domain, like name@example.nhs.uk"
    if "@" in local or not _LOCAL.match(local) or local.startswith(".") or ".." in local:
        return "the part before the @ has characters an address cannot have"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return "the part after the @ is not a domain, like example.nhs.uk"
    return None
