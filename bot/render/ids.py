"""Every Slack id Parley uses (callback_id, action_id, block_id), written once."""

from __future__ import annotations

from enum import StrEnum


class Callback(StrEnum):
    event_form = "parley.event_form"
    deadline_form = "parley.deadline_form"
    truce_form = "parley.truce_form"
    round_form = "parley.round_form"
    sensitivity_form = "parley.sensitivity_form"
    add_to_parley = "parley.add_to_parley"  # the message shortcut


class Action(StrEnum):
    open_event_form = "parley.open_event_form"
    open_deadline_form = "parley.open_deadline_form"
    edit_deadline = "parley.edit_deadline"
    mark_deadline_met = "parley.mark_deadline_met"
    confirm_deadline_met = "parley.confirm_deadline_met"
    reopen_deadline = "parley.reopen_deadline"
    open_truce_form = "parley.open_truce_form"
    open_round_form = "parley.open_round_form"
    edit_round = "parley.edit_round"
    open_sensitivity_form = "parley.open_sensitivity_form"
    edit_sensitivity = "parley.edit_sensitivity"
    add_item = "parley.add_item"  # a proposal's Add to record
    dismiss_item = "parley.dismiss_item"
    mute_item = "parley.mute_item"
    input = "value"


class Field(StrEnum):
    """Input block ids: the keys of `view.state.values` and of inline errors."""

    headline = "title"
    when = "when"
    due = "due"
    kind = "kind"
    summary = "summary"
    source = "source"
    source_url = "source_url"
    confidence = "confidence"
    visibility = "visibility"
    track = "track"
    sensitivities = "sensitivities"
    offsets = "offsets"
    expiry = "expiry"
    terms = "terms"
    note = "note"
    place = "place"
    starts = "starts"
    ends = "ends"
    zone = "zone"
    status = "status"
    outcome = "outcome"
    delegations = "delegations"
    name = "name"
    level = "level"
    description = "description"
    keywords = "keywords"


#: Where a form's input error is shown when the error names no field: its first field.
DEFAULT_FIELD: dict[Callback, Field] = {
    Callback.event_form: Field.headline,
    Callback.deadline_form: Field.headline,
    Callback.truce_form: Field.expiry,
    Callback.round_form: Field.headline,
    Callback.sensitivity_form: Field.name,
}
