"""Say which item a command means (issue 9 §5).

Beside each item a listing shows what its commands take: a round the number `/talks edit`
takes, a deadline the number `/deadline edit|met|cancel` takes, a sensitivity the topic
`/watch edit` takes. Every button on an item names that item, within Slack's 75 characters.
The record is made busy first: upcoming rounds, a round and a sensitivity with over-long
names, a restricted sensitivity, and a renamed one whose old topic is another's name now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import SQLModel

from bot.render.ids import Action, Field
from bot.scheduler import Scheduler, delivery_client
from bot.settings import Settings
from storage import rounds, sensitivities
from storage.access import CLI
from storage.models import Deadline, DeadlineStatus, Level, Sensitivity, TalksRound, Truce
from tests.support.bots import RunningBot
from tests.support.checks import HOSTILE, answer, assert_user_text_escaped, rows
from tests.support.people import AS_OF, LEAD, MEMBER

LONG_ROUND = (
    "US–China working-level consultations on farm purchases, fentanyl precursors, export "
    "controls and port fees, Washington"
)
LONG_TOPIC = (
    "Outbound investment screening of US capital in Chinese semiconductors, quantum and AI firms"
)
MADRID = "US–China trade talks, Madrid"


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def make_busy(bot: RunningBot) -> None:
    async with bot.db.session() as session:
        for title, starts in ((MADRID, "2025-09-14"), (LONG_ROUND, "2025-10-01")):
            await rounds.add_round(
                session,
                actor=CLI,
                now=AS_OF,
                title=title,
                starts_at=datetime.fromisoformat(starts).replace(tzinfo=UTC),
                zone="UTC",
            )
        taiwan = await sensitivities.find_sensitivity(session, "taiwan", include_restricted=True)
        assert taiwan.id is not None
        await sensitivities.update_sensitivity(
            session, actor=CLI, now=AS_OF, sensitivity_id=taiwan.id, name="Cross-strait relations"
        )
        strait = await sensitivities.add_sensitivity(
            session, actor=CLI, now=AS_OF, name="Strait", level=Level.critical
        )
        assert strait.id is not None  # named "Taiwan" now, the old topic of another item
        await sensitivities.update_sensitivity(
            session, actor=CLI, now=AS_OF, sensitivity_id=strait.id, name="Taiwan"
        )
        await sensitivities.add_sensitivity(
            session, actor=CLI, now=AS_OF, name="Fentanyl precursors", visibility="restricted"
        )
        await sensitivities.add_sensitivity(
            session, actor=CLI, now=AS_OF, name=LONG_TOPIC, level=Level.high
        )
    for line in ("Section 301 hearing | 2025-08-05 12:00 UTC", f"{LONG_ROUND} | +20d"):
        answer(await bot.command("/deadline", f"add {line}", user=LEAD))


@pytest.fixture
async def busy(bot: RunningBot) -> RunningBot:
    await make_busy(bot)
    return bot


def sections(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in payload["blocks"] if b["type"] == "section"]


def first_line(block: dict[str, Any]) -> str:
    return str(block["text"]["text"]).split("\n", 1)[0]


ROUND_LINE = re.compile(r"^\*(?P<title>.+)\*(?:  ·  `[^`]+`)?  ·  #(?P<ref>\d+)$")
TOPIC_LINE = re.compile(
    r"^\S+ \*(?P<name>.+)\*  ·  \w+(?:  ·  :lock: restricted)?  ·  topic `(?P<ref>[^`]+)`$"
)
DEADLINE_REF = re.compile(r"  ·  #(?P<ref>\d+)$")


def shown_rounds(payload: dict[str, Any]) -> list[tuple[str, str]]:
    found = [ROUND_LINE.match(first_line(b)) for b in sections(payload)]
    return [(unescape(m["title"]), m["ref"]) for m in found if m]


def shown_topics(payload: dict[str, Any]) -> list[tuple[str, str]]:
    found = [TOPIC_LINE.match(first_line(b)) for b in sections(payload)]
    return [(unescape(m["name"]), m["ref"]) for m in found if m]


def shown_deadlines(payload: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for block in sections(payload):
        text = str(block["text"]["text"])
        ref = DEADLINE_REF.search(text.rstrip().rsplit("\n", 1)[-1])
        title = re.match(r"^\*(.+?)\*", text)
        if ref and title:
            shown.append((unescape(title[1]), ref["ref"]))
    return shown


def form_item(view: dict[str, Any]) -> tuple[int | None, str | None]:
    """The item a form edits, and its title or name as filled in."""
    item_id = json.loads(view["private_metadata"])["item_id"]
    names = [
        b["element"].get("initial_value")
        for b in view["blocks"]
        if b.get("block_id") in (Field.headline, Field.name)
    ]
    return item_id, names[0] if names else None


# ---- the number or topic beside each item opens that item ------------------------------


async def test_every_number_beside_a_round_makes_talks_edit_open_that_round(
    busy: RunningBot,
) -> None:
    shown = shown_rounds(answer(await busy.command("/talks", user=LEAD)))
    assert [title for title, _ in shown] == [
        "US–China economic and trade talks, Stockholm",
        MADRID,
        LONG_ROUND,
    ]
    assert shown_rounds(answer(await busy.command("/talks", user=MEMBER))) == shown
    for title, ref in shown:
        (talks,) = await rows(busy, TalksRound, TalksRound.title == title)
        assert ref == str(talks.id)
        for typed in (ref, f"#{ref}"):
            await busy.command("/talks", f"edit {typed}", user=LEAD)
            assert form_item(await busy.opened_view()) == (talks.id, title)


async def test_every_topic_beside_a_sensitivity_makes_watch_edit_open_that_one(
    busy: RunningBot,
) -> None:
    shown = shown_topics(answer(await busy.command("/watch", user=LEAD)))
    assert len(shown) == len(await rows(busy, Sensitivity)) == 7
    assert ("Cross-strait relations", "taiwan") in shown  # its topic is another's name now
    assert ("Fentanyl precursors", "fentanyl-precursors") in shown  # restricted: leads see it
    for name, topic in shown:
        (item,) = await rows(busy, Sensitivity, Sensitivity.name == name)
        await busy.command("/watch", f"edit {topic}", user=LEAD)
        assert form_item(await busy.opened_view()) == (item.id, name)
        timeline = answer(await busy.command("/watch", topic, user=LEAD))
        assert timeline["blocks"][0]["text"]["text"] == f"Watch: {name} ({item.level})"


async def test_every_number_beside_a_deadline_is_the_one_edit_met_and_cancel_take(
    busy: RunningBot,
) -> None:
    shown = shown_deadlines(answer(await busy.command("/deadline", user=LEAD)))
    assert len(shown) == 3
    assert shown_deadlines(answer(await busy.command("/deadline", user=MEMBER))) == shown
    for title, ref in shown:
        await busy.command("/deadline", f"edit {ref}", user=LEAD)
        (deadline,) = await rows(busy, Deadline, Deadline.title == title)
        assert form_item(await busy.opened_view()) == (deadline.id, title)
    (met_title, met_ref), (cancel_title, cancel_ref) = shown[0], shown[2]
    for verb, ref, title, status in (
        ("met", met_ref, met_title, DeadlineStatus.met),
        ("cancel", cancel_ref, cancel_title, DeadlineStatus.cancelled),
    ):
        reply = answer(await busy.command("/deadline", f"{verb} {ref}", user=LEAD))
        assert reply["text"].startswith(f"Deadline #{ref} “{title}” is now")
        (deadline,) = await rows(busy, Deadline, Deadline.id == int(ref))
        assert deadline.status == status


async def test_talks_edit_without_a_number_points_at_the_numbers_shown(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", "edit Stockholm", user=LEAD))
    assert "the number `/talks` shows beside it" in body["text"]
    assert "/talks edit 2" not in body["text"]  # 2 is London, not the round on screen
    assert bot.standin.calls_to("views.open") == []


async def test_a_topic_means_its_own_item_before_one_renamed_to_it(busy: RunningBot) -> None:
    async with busy.db.session() as session:
        found = await sensitivities.find_sensitivity(session, "taiwan", include_restricted=True)
        assert found.name == "Cross-strait relations"
        renamed = await sensitivities.find_sensitivity(session, "strait", include_restricted=True)
        assert renamed.name == "Taiwan"


# ---- every button names its item: a table over every surface that has one -------------


@dataclass(frozen=True)
class Labels:
    """How a surface's buttons of one action name their item: prefix, item, suffix."""

    model: type[SQLModel]
    prefix: str
    suffix: str = ""


def item_name(row: Any) -> str:
    return str(getattr(row, "title", None) or row.name)


async def countdown_post(bot: RunningBot) -> dict[str, Any]:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    settings = Settings(bot_token="xoxb-test-token", api_url=bot.standin.api_url)
    scheduler = Scheduler(
        db=bot.db, client=delivery_client(settings), clock=bot.clock, settings=settings
    )
    bot.clock.set(datetime(2025, 8, 5, 12, 0, 1, tzinfo=UTC) - timedelta(days=1))
    mark = bot.standin.mark()
    await scheduler.tick()
    posts = bot.standin.calls_since(mark, "chat.postMessage", lambda c: "metadata" in c.args)
    (hearing,) = [p.args for p in posts if "Section 301 hearing" in str(p.args["text"])]
    return hearing


async def digest_post(bot: RunningBot) -> dict[str, Any]:
    return answer(await bot.command("/desk", "digest", user=LEAD))


async def home(bot: RunningBot) -> dict[str, Any]:
    return await bot.open_home(LEAD)


def command(name: str, text: str = "") -> Callable[[RunningBot], Awaitable[dict[str, Any]]]:
    async def run(bot: RunningBot) -> dict[str, Any]:
        return answer(await bot.command(name, text, user=LEAD))

    return run


EDIT_ROUND = {Action.edit_round: Labels(TalksRound, "Edit ")}
EDIT_TOPIC = {Action.edit_sensitivity: Labels(Sensitivity, "Edit ")}
EDIT_DEADLINE = {Action.edit_deadline: Labels(Deadline, "Edit ")}
EDIT_TRUCE = {Action.open_truce_form: Labels(Truce, "Edit / extend ")}
COUNTDOWN = {
    Action.edit_deadline: Labels(Deadline, "Extend / edit "),
    Action.mark_deadline_met: Labels(Deadline, "Mark met: ", ""),
}
SURFACES: dict[str, tuple[Callable[[RunningBot], Awaitable[dict[str, Any]]], dict[str, Labels]]] = {
    "/talks": (command("/talks"), EDIT_ROUND),
    "/watch": (command("/watch"), EDIT_TOPIC),
    "/deadline": (command("/deadline"), EDIT_DEADLINE),
    "/truce": (command("/truce"), EDIT_TRUCE),
    "App Home": (home, EDIT_DEADLINE | EDIT_TRUCE | EDIT_TOPIC),
    "countdown post": (countdown_post, COUNTDOWN),
    "digest": (digest_post, {}),
}


def all_buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in payload["blocks"]:
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("type") == "button":
                found.append(element)
    return found


@pytest.mark.parametrize("surface", list(SURFACES))
async def test_every_button_on_an_item_names_that_item(busy: RunningBot, surface: str) -> None:
    produce, labels = SURFACES[surface]
    payload = await produce(busy)
    named = 0
    for element in all_buttons(payload):
        text = element["text"]
        label = text["text"]
        assert text["type"] == "plain_text" and len(label) <= 75, element
        if element["action_id"] not in labels:
            assert not element.get("value"), f"{label!r} acts on an item but names none"
            assert label.startswith("Add "), element
            continue
        how = labels[element["action_id"]]
        model: Any = how.model
        (row,) = await rows(busy, model, model.id == int(element["value"]))
        assert label.startswith(how.prefix) and label.endswith(how.suffix), label
        shown = label[len(how.prefix) : len(label) - len(how.suffix)]
        name = item_name(row)
        if shown != name:  # cut to fit: at a word, marked, and only when it had to be
            assert len(how.prefix + name + how.suffix) > 75, label
            assert shown.endswith("…") and name.startswith(shown[:-1]), label
            assert not name[len(shown) - 1].isalnum(), label  # after a whole word
        named += 1
    expected = sum(1 for e in all_buttons(payload) if e["action_id"] in labels)
    assert named == expected and (named > 0) == bool(labels)


async def test_the_watch_buttons_are_edit_and_the_topic_name(busy: RunningBot) -> None:
    payload = answer(await busy.command("/watch", user=LEAD))
    labels = [b["accessory"]["text"]["text"] for b in sections(payload) if b.get("accessory")]
    assert "Edit Taiwan" in labels and "Edit Cross-strait relations" in labels
    assert "Edit" not in labels
    assert len(labels) == len(set(labels)) == 7
    long = next(label for label in labels if label.startswith("Edit Outbound"))
    assert long == "Edit Outbound investment screening of US capital in Chinese semiconductors…"
    assert len(long) <= 75


async def test_a_long_round_title_is_cut_at_a_word_on_its_button(busy: RunningBot) -> None:
    payload = answer(await busy.command("/talks", user=LEAD))
    (block,) = [b for b in sections(payload) if "Washington" in b["text"]["text"]]
    label = block["accessory"]["text"]["text"]
    assert len(label) <= 75 and label.endswith("…")
    assert LONG_ROUND.startswith(label[len("Edit ") : -1])
    assert not LONG_ROUND[len(label) - len("Edit ") - 1].isalnum()  # after a whole word


async def test_members_get_the_numbers_but_no_buttons(busy: RunningBot) -> None:
    for name in ("/talks", "/watch", "/deadline", "/truce"):
        payload = answer(await busy.command(name, user=MEMBER))
        assert all_buttons(payload) == []
    assert shown_rounds(answer(await busy.command("/talks", user=MEMBER)))
    assert shown_topics(answer(await busy.command("/watch", user=MEMBER)))


async def test_a_hostile_title_is_plain_text_on_its_button_and_escaped_beside_it(
    bot: RunningBot,
) -> None:
    async with bot.db.session() as session:
        await rounds.add_round(
            session,
            actor=CLI,
            now=AS_OF,
            title=HOSTILE,
            starts_at=datetime(2025, 9, 1, tzinfo=UTC),
            zone="UTC",
        )
    payload = answer(await bot.command("/talks", user=LEAD))
    assert_user_text_escaped(payload)
    (block,) = [b for b in sections(payload) if "Ping" in b["text"]["text"]]
    assert block["accessory"]["text"] == {"type": "plain_text", "text": f"Edit {HOSTILE}"}
    (ref,) = [r for t, r in shown_rounds(payload) if t == HOSTILE]
    await bot.command("/talks", f"edit {ref}", user=LEAD)
    assert form_item(await bot.opened_view())[1] == HOSTILE
