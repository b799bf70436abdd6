"""Errors the record raises; handlers turn each into a clear reply.

ParleyError
├── NotPermitted        the actor's role does not allow the change
├── NotFound            a track, deadline, truce … that does not exist
├── InvalidInput        a value the record refuses (limit, past time, bad choice)
└── RecordUnavailable   the database cannot be reached
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base of every error whose message can be shown to the user as it is."""


class NotPermitted(ParleyError):
    pass


class NotFound(ParleyError):
    pass


class InvalidInput(ParleyError):
    """`field` names the form input at fault, so a modal can show the error inline."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RecordUnavailable(ParleyError):
    pass


LEADS_ONLY = "Only a desk lead can change the record. Ask an admin to make you a lead."
ADMINS_ONLY = "Only an admin can name or remove leads."
RECORD_UNAVAILABLE = "The record is unavailable right now; try again in a moment."
