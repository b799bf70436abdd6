"""`parley shell` end to end: the real console script, piped input, a fresh SQLite file.

Each test starts the installed `parley` executable in a subprocess (cwd: a temporary
folder, so no `.env` is read; no SLACK_* or PARLEY_* variables inherited) and feeds it a
fixed script on stdin. In piped mode the shell echoes every answered prompt, so the output
reads like a transcript.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.cli import PARLEY, TIMEOUT, clean_env, ok, piped_shell, snapshot

AS_OF = "2025-07-29T09:00Z"
TRUCE_EXPIRY = "US–China tariff truce (Geneva, 90 days) expires"  # the seeded deadline


def shell(
    tmp_path: Path,
    *lines: str,
    db_name: str = "parley.db",
    as_of: str | None = AS_OF,
    flags: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`parley shell --as-of AS_OF` (unless told otherwise) with `lines` piped in."""
    return piped_shell(tmp_path, *lines, db_name=db_name, as_of=as_of, flags=flags)


def after(output: str, typed: str) -> str:
    """The transcript from the (last) line where `typed` was entered at the main prompt."""
    marker = f"parley> {typed}\n"
    assert marker in output, (marker, output)
    return output[output.rindex(marker) + len(marker) :]


def listed(text: str) -> list[str]:
    """The titles of the items a listing shows (a line `Title  ·  handle`, or `Title` alone
    before its time), not the buttons or other mentions of them."""
    lines = text.splitlines()
    return [
        line.split("  ·  ")[0]
        for line, below in zip(lines, lines[1:] + [""], strict=True)
        if below[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        and not line.startswith((" ", "─"))
    ]


def section(output: str, typed: str) -> str:
    """What the shell printed in answer to the line `typed`, up to the next main prompt."""
    rest = after(output, typed)
    return rest.split("parley> ", 1)[0]


# ---- starting ------------------------------------------------------------------------------


def test_truce_on_fresh_database_seeds_and_counts_down(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/truce"))
    assert out.startswith("Seeded the founding case: added 3 tracks")
    assert "Parley shell" in out
    truce = section(out, "/truce")
    assert truce.startswith("── only you can see this ──\nActive truce\n")  # the header
    assert "US–China tariff truce" in truce
    assert "12 Aug 2025" in truce
    assert re.search(r"13 days \d+ hours? left", truce), truce
    assert "  (1) Edit / extend" in truce


def test_second_start_on_same_database_does_not_seed_again(tmp_path: Path) -> None:
    first = ok(shell(tmp_path, "/deadline add Kept across restarts | +3d"))
    assert "Seeded the founding case" in first
    again = shell(tmp_path, "/deadline")
    second = ok(again)
    assert "Seeded" not in second
    assert again.stderr == ""  # the same --as-of again is a continuation, not a rewind
    listing = section(second, "/deadline")
    assert "\nUpcoming deadlines (2)\n" in listing
    assert "Kept across restarts" in listing
    assert listed(listing).count(TRUCE_EXPIRY) == 1


def test_as_of_garbage_is_one_clear_line_and_non_zero_exit(tmp_path: Path) -> None:
    result = shell(tmp_path, "/truce", as_of="garbage")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--as-of" in lines[0] and "garbage" in lines[0]
    assert "2025-07-29T09:00Z" in lines[0]  # an example that works
    assert not (tmp_path / "parley.db").exists()


def test_a_replay_on_a_record_written_later_says_so_and_offers_fresh(tmp_path: Path) -> None:
    ok(shell(tmp_path, as_of=None))  # seeded and subscribed at the wall clock
    result = shell(tmp_path, ":wait 8d")
    out = ok(result)
    assert "Parley posted" not in out  # still true, but no longer silent:
    warning = " ".join(result.stderr.split())
    assert warning.startswith(f"parley shell: {tmp_path / 'parley.db'} was last written ")
    assert "after --as-of Tue 29 Jul 2025 09:00 UTC" in warning
    assert "posts none of the countdowns and digests that fall due in between" in warning
    assert f"`parley shell --as-of {AS_OF} --fresh`" in warning
    assert str(tmp_path / "parley-replay.db") in warning
    assert len(result.stderr.strip().split("\n\n")) == 1  # one paragraph
    assert not (tmp_path / "parley-replay.db").exists()  # offered, not made


def test_fresh_replays_in_a_new_file_and_leaves_the_record_alone(tmp_path: Path) -> None:
    ok(shell(tmp_path, "/deadline add Made at the wall clock | +3d", as_of=None))
    record = snapshot(tmp_path / "parley.db")
    added = "/deadline add Only in the first replay | +1d"
    first = shell(tmp_path, added, ":wait 8d", flags=["--fresh"])
    out = ok(first)
    assert first.stderr == ""
    replay = tmp_path / "parley-replay.db"
    assert out.startswith(
        f"Replaying in a fresh database, {replay}; {tmp_path / 'parley.db'} is left as it is.\n"
        "Seeded the founding case: "
    )
    waited = section(out, ":wait 8d")
    assert "── Parley posted to #desk · Tue 5 Aug 2025 04:01 UTC ──" in waited
    assert "Made at the wall clock" not in section(out, added)
    # Again: the older replay file is replaced, the record still untouched.
    second = ok(shell(tmp_path, "/deadline", flags=["--fresh"]))
    listing = section(second, "/deadline")
    assert "\nUpcoming deadlines (1)\n" in listing
    assert "Only in the first replay" not in listing
    assert snapshot(tmp_path / "parley.db") == record


def test_fresh_that_cannot_replace_the_replay_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "parley-replay.db").mkdir()
    result = shell(tmp_path, "/truce", flags=["--fresh"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"parley shell: --fresh cannot remove {tmp_path / 'parley-replay.db'}: Is a directory"
    ]
    assert not (tmp_path / "parley.db").exists()


# ---- commands ------------------------------------------------------------------------------


def test_deadline_add_then_list(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/deadline add Test | +3d", "/deadline"))
    added = section(out, "/deadline add Test | +3d")
    assert "Deadline #2 added: Test\n" in added
    assert "Fri 1 Aug 2025 09:01 UTC" in added
    assert "3 days left" in added  # on the next whole minute: never sooner than asked
    listing = section(out, "/deadline")
    assert "\nUpcoming deadlines (2)\n" in listing
    assert "1 Aug 2025" in listing
    # soonest first
    assert listed(listing) == ["Test", TRUCE_EXPIRY]


def test_unknown_input_gets_a_hint(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/bogus", "9", "hello"))
    assert "Unknown command '/bogus'" in section(out, "/bogus")
    assert "There is no button (9)." in section(out, "9")
    assert "Type a slash command" in section(out, "hello")
    assert ":help lists them all" in section(out, "hello")


def test_help_lists_every_console_command(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, ":help"))
    listing = section(out, ":help")
    for command in (
        "/truce",
        "/desk help",
        ":wait <time>",
        ":now",
        ":as @name",
        ":home",
        ":zone [zone]",
        "quit",
        "<number>",
    ):
        assert command in listing, command


# ---- App Home and each person's zone --------------------------------------------------------


def test_home_shows_the_tab_as_the_acting_person_sees_it(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, ":home", ":as @bob", ":home", "1"))
    mine = section(out, ":home")
    assert mine.startswith("── App Home of @you ──")
    assert "(1) Add event" in mine and "Next deadlines" in mine and "Active truce" in mine
    bobs = out[out.rindex("── App Home of @bob ──") :]
    assert "Add event" not in bobs and "Next deadlines" in bobs  # a member: no lead buttons
    # (1) is @you's "Add event" button: Bob, a member, clicking it is refused
    assert "Only a desk lead can change the record" in bobs.split("parley (as @bob)> 1\n", 1)[1]


@pytest.mark.parametrize(
    ("zone", "reader_time"),
    [
        ("America/New_York", "your time: Tue 12 Aug 2025 00:01 EDT"),
        ("Asia/Shanghai", "your time: Tue 12 Aug 2025 12:01 UTC+8 Shanghai"),
        ("Australia/Adelaide", "your time: Tue 12 Aug 2025 13:31 ACST"),
        ("UTC", "your time: Tue 12 Aug 2025 04:01 UTC"),
    ],
)
def test_zone_gives_one_person_their_own_time(tmp_path: Path, zone: str, reader_time: str) -> None:
    out = ok(shell(tmp_path, ":zone", f":zone {zone}", ":zone", "/truce", ":as @bob /truce"))
    first = out.split("parley> :zone\n", 1)[1].split("parley> ", 1)[0]
    assert first.startswith("@you's time zone is UTC.")
    assert section(out, ":zone").startswith(f"@you's time zone is {zone}.")
    assert f"@you's time zone is now {zone}" in section(out, f":zone {zone}")
    assert reader_time in section(out, "/truce")
    # Bob's zone is still the desk's (UTC here)
    assert "your time: Tue 12 Aug 2025 04:01 UTC" in section(out, ":as @bob /truce")


def test_zone_refuses_what_is_not_a_zone(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, ":zone Mars/Olympus", ":zone EST", ":zone EST5EDT", ":zone Utc"))
    for typed in ("Mars/Olympus", "EST", "EST5EDT", "Utc"):
        said = section(out, f":zone {typed}")
        assert said.startswith(f"'{typed}' is not a time zone of a place. Usage: :zone Area/City")


# ---- forms as prompts ----------------------------------------------------------------------

EVENT_TITLE = "Taiwan Strait drill reported near Kinmen"


def test_event_form_filled_at_prompts_then_watch_shows_it(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/desk event",
            EVENT_TITLE,  # Title
            "",  # When (optional): Enter means now
            "7",  # Kind: 7. diplomatic
            "Live-fire drill announced.",  # Summary: lines until an empty one
            "",
            "Reuters",  # Source
            "",  # Source URL
            "3",  # Confidence: 3. confirmed
            "2",  # Track: 2. us-china
            "",  # Visibility: keep [team]
            "3",  # Sensitivities: 3. Taiwan
            "/watch Taiwan",
        )
    )
    form = section(out, "/desk event")
    assert "── Add event ──" in form
    prompts = [
        f"Title: {EVENT_TITLE}",
        "When (optional): \n",
        "Kind:",
        "  *3. report",
        "   7. diplomatic",
        "  choose (number or name): 7",
        "Summary (optional), one per line; an empty line ends:",
        "  1> Live-fire drill announced.",
        "  2> \n",
        "Source (optional): Reuters",
        "Source URL (optional): \n",
        "Confidence:",
        "  *2. reported",
        "  choose (number or name): 3",
        "Track:",
        "  *1. desk-wide (no track)",
        "   2. us-china",
        "  choose (number or name): 2",
        "Visibility:",
        "  *1. team",
        "  choose (number or name): \n",
        "Sensitivities (optional):",
        "   3. Taiwan",
        "  choose (numbers or names, comma-separated): 3",
    ]
    position = 0
    for prompt in prompts:
        found = form.find(prompt, position)
        assert found >= 0, (prompt, form[position:])
        position = found + len(prompt)
    assert "The form has errors" not in out
    watch = after(out, "/watch Taiwan")
    assert "\nWatch: Taiwan (high)\n" in watch
    line = next(line for line in watch.splitlines() if EVENT_TITLE in line)
    assert "Tue 29 Jul 2025 09:00 UTC" in line
    assert line.endswith("  ·  confirmed")
    assert "Source: Reuters" in watch
    assert "Event #13 added" in out


def test_a_choice_by_name_or_the_start_of_one(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/desk event",
            EVENT_TITLE,  # Title
            "",  # When
            "Diplomatic",  # Kind: by name, any case
            "",  # Summary: an empty first line leaves it empty
            "",  # Source
            "",  # Source URL
            "r",  # Confidence: rumour or reported → asked again
            "conf",  # Confidence: confirmed
            "us-c",  # Track: us-china — US–China trade
            "nope",  # Visibility: no such name → asked again
            "restricted",  # Visibility
            "taiwan, 1",  # Sensitivities: a name and a number
            "/watch Taiwan",
        )
    )
    form = section(out, "/desk event")
    assert "  choose (number or name): Diplomatic\n" in form
    assert "  'r' could be rumour, reported: type more of the name, or its number.\n" in form
    assert "  No choice is named 'nope': type a number from 1 to 2, or a name.\n" in form
    assert "The form has errors" not in out
    assert "Event #13 added" in out
    watch = after(out, "/watch Taiwan")
    line = next(line for line in watch.splitlines() if EVENT_TITLE in line)
    assert line.endswith("  ·  confirmed  ·  🔒")  # confirmed, and restricted (the lock)


def test_enter_after_an_unreadable_time_asks_again_not_lets_it_through(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/deadline new",
            "Tariff review",  # Title
            "whenever",  # Due: unreadable
            "",  # Enter: the same unreadable text is not taken, but asked again
            "+5d",  # Due
            "2",  # Kind
            "",  # Track
            "",  # Countdown offsets
            "",  # Visibility
        )
    )
    form = section(out, "/deadline new")
    assert form.count('Could not read "whenever" as a time') == 2
    assert "The form has errors:" not in form  # never sent with it
    assert "Deadline #2 added: Tariff review, due Sun 3 Aug 2025 09:01 UTC" in out


@pytest.mark.parametrize("clear", ["-", " - "])
def test_an_optional_field_the_app_refused_can_be_emptied(tmp_path: Path, clear: str) -> None:
    out = ok(
        shell(
            tmp_path,
            "/desk event",
            "URL test",  # Title
            "2025-07-29 10:00",  # When
            "",  # Kind
            "",  # Summary (multi-line: ends at once)
            "",  # Source
            "notaurl",  # Source URL: refused by the app when the form is sent
            "",  # Confidence
            "",  # Track
            "",  # Visibility
            "",  # Sensitivities
            "",  # Source URL again: Enter keeps 'notaurl', refused again
            clear,  # cleared: the field is optional
            "/desk search url test",
        )
    )
    form = section(out, "/desk event")
    assert form.count("! Source URL: The source URL must be a web address") == 2
    assert "Source URL (optional) [notaurl] ('-' clears): " in form
    assert "Event #13 added: URL test" in out
    assert "notaurl" not in section(out, "/desk search url test")


def test_unreadable_due_time_is_said_at_once_and_asked_again(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/deadline new",
            "Tariff review",  # Title
            "whenever blue moon",  # Due: unreadable, asked again at once
            "+5d",  # Due
            "2",  # Kind: 2. tariff action
            "",  # Track: keep desk-wide
            "",  # Countdown offsets
            "",  # Visibility: keep team
            "/deadline",
        )
    )
    form = section(out, "/deadline new")
    assert "The form has errors:" not in form  # caught before the form was sent
    assert "\nDue: whenever blue moon\n" in form
    error_line = next(line for line in form.splitlines() if line.startswith("  ! "))
    assert 'Could not read "whenever blue moon" as a time' in error_line
    assert "+90d" in error_line  # an example that works
    assert "\nDue [whenever blue moon]: +5d\n  → read as Sun 3 Aug 2025 09:01 UTC\n" in form
    assert form.count("Title: ") == 1
    listing = after(out, "/deadline")
    assert "\nUpcoming deadlines (2)\n" in listing
    assert "Tariff review" in listed(listing)
    assert "Sun 3 Aug 2025 09:01 UTC" in listing
    assert "  ·  tariff action  ·  " in listing
    assert "Deadline #2 added: Tariff review, due " in out


def test_a_time_the_app_refuses_is_shown_at_its_field_and_asked_again(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/deadline new",
            "Tariff review",  # Title
            "Jul 1 2025 10:00",  # Due: reads, but is past: the app refuses it
            "2",  # Kind: 2. tariff action
            "",  # Track
            "",  # Countdown offsets
            "",  # Visibility
            "Aug 20 2025 10:00",  # Due, asked again
            "/deadline",
        )
    )
    form = section(out, "/deadline new")
    assert "\nDue: Jul 1 2025 10:00\n  → read as Tue 1 Jul 2025 10:00 UTC\n" in form
    errors = form[form.index("The form has errors:") :]
    error_line = next(line for line in errors.splitlines() if line.startswith("  ! "))
    assert error_line.startswith("  ! Due: That time (Tue 1 Jul 2025 10:00 UTC) is already past")
    # Only the field in error is asked again, with the earlier answers kept.
    assert "\nDue [Jul 1 2025 10:00]: Aug 20 2025 10:00\n" in errors
    assert "Kind:" not in errors and "Track:" not in errors
    assert "Deadline #2 added: Tariff review, due Wed 20 Aug 2025 10:00 UTC" in out


def test_cancel_in_a_form_saves_nothing(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            # at a text prompt
            "/deadline new",
            "Ghost at text",
            "/cancel",
            # at a select prompt
            "/desk event",
            "Ghost Taiwan event",
            "",
            "/cancel",
            # at a field asked again after an error
            "/deadline new",
            "Ghost after error",
            "Jul 1 2025",  # past: the app refuses it once the form is sent
            "",
            "",
            "",
            "",
            "/cancel",
            "/deadline",
            "/watch Taiwan",
        )
    )
    assert out.count("Form cancelled; nothing was saved.") == 3
    assert "The form has errors:" in out
    listing = section(out, "/deadline")
    assert "\nUpcoming deadlines (1)\n" in listing
    assert "Ghost" not in listing
    watch = after(out, "/watch Taiwan")
    assert "\nWatch: Taiwan (high)\n" in watch
    assert "Ghost" not in watch
    assert "added" not in out.split("parley> ", 1)[1]


def test_end_of_input_in_a_form_saves_nothing(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/deadline new", "Half typed", "+3d"))
    assert out.rstrip().endswith("Form cancelled; nothing was saved.")
    listing = section(ok(shell(tmp_path, "/deadline")), "/deadline")
    assert "\nUpcoming deadlines (1)\n" in listing
    assert "Half typed" not in listing


# ---- buttons -------------------------------------------------------------------------------


def test_a_number_clicks_the_button_and_opens_the_form(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            "/deadline",
            "2",  # (2) Add deadline
            "Clicked deadline",
            "+2d",
            "",
            "",
            "",
            "",
            "/deadline",
            "3",  # (3) Edit: the new, soonest deadline; numbers run on from the first listing
            "",  # keep every [default] but the countdown offsets (an edit must change one)
            "",
            "",
            "",
            "7d,1d",
            "",
            "/deadline",
        )
    )
    listing = out[out.index("parley> /deadline\n") :]
    first = listing.split("parley> ", 2)[1]
    assert f"  (1) Edit {TRUCE_EXPIRY}\n  (2) Add deadline\n" in first
    assert "[Add deadline]" not in out  # each button printed once, numbered
    assert first.count("Add deadline") == 1
    add_form = listing.split("parley> ", 3)[2]
    assert add_form.startswith("2\n")
    assert "── New deadline ──" in add_form
    second = listing.split("parley> ", 4)[3]
    assert listed(second) == ["Clicked deadline", TRUCE_EXPIRY]
    assert "Thu 31 Jul 2025 09:01 UTC" in second
    # Each item's button under it; the numbers go on from the ones still on screen.
    assert "  (3) Edit Clicked deadline\n" in second
    assert f"  (4) Edit {TRUCE_EXPIRY}\n  (5) Add deadline\n" in second
    assert second.index("(3) Edit Clicked") < second.index(TRUCE_EXPIRY)
    edit_form = listing.split("parley> ", 5)[4]
    assert edit_form.startswith("3\n")
    assert "── Edit deadline #2 ──" in edit_form
    assert "Title [Clicked deadline]: \n" in edit_form
    assert "Due [2025-07-31 09:01 UTC]: \n" in edit_form
    assert "The form has errors" not in edit_form
    last = after(out, "/deadline")
    assert "\nUpcoming deadlines (2)\n" in last
    assert "Clicked deadline" in listed(last)
    assert "Thu 31 Jul 2025 09:01 UTC" in last
    assert "  (6) Edit Clicked deadline\n" in last
    assert "Deadline #2 added" in out and "Deadline #2 updated" in out


def test_a_button_from_an_earlier_post_still_clicks(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/deadline", "/watch Taiwan", "1", "/cancel", "9"))
    assert "  (1) Edit " + TRUCE_EXPIRY in section(out, "/deadline")
    assert "  (3) Add event\n  (4) Add sensitivity\n" in section(out, "/watch Taiwan")
    clicked = section(out, "1")  # the first listing's button, after /watch printed more
    assert "── Edit deadline #1 ──" in clicked
    assert "There is no button" not in clicked
    assert "There is no button (9). The buttons on screen are (1) to (4)." in section(out, "9")


# ---- scheduled posts -----------------------------------------------------------------------


def test_wait_shows_each_countdown_and_digest_as_it_falls_due(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, ":wait 14d", "/desk subscribe"))
    waited = section(out, ":wait 14d")
    posted = re.findall(r"── Parley posted to #desk · (.+?) ──", waited)
    countdowns = [w for w in posted if "04:01" in w or "16:01" in w or "03:01" in w]
    # 7d, 3d, 1d, 12h, 1h and "deadline reached" before 12 August 00:01 EDT (04:01 UTC).
    assert countdowns == [
        "Tue 5 Aug 2025 04:01 UTC",
        "Sat 9 Aug 2025 04:01 UTC",
        "Mon 11 Aug 2025 04:01 UTC",
        "Mon 11 Aug 2025 16:01 UTC",
        "Tue 12 Aug 2025 03:01 UTC",
        "Tue 12 Aug 2025 04:01 UTC",
        "Tue 12 Aug 2025 04:01 UTC",  # with no extension, the truce lapsed: its alert
    ]
    assert "Deadline reached: US–China tariff truce" in waited
    assert "US–China tariff truce (Geneva, 90 days) lapsed" in waited
    assert waited.count("──\nDesk digest · ") == 14  # one a day at 08:00, the first on 29 July
    assert "It is now Tue 12 Aug 2025 09:00 UTC." in waited
    assert "Digest: 08:00 UTC, daily" in section(out, "/desk subscribe")


def test_wait_refuses_a_bad_duration(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, ":wait soon"))
    assert "Usage: :wait <duration>" in section(out, ":wait soon")


def test_scheduler_off_posts_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(PARLEY), "shell", "--as-of", AS_OF],
        input=":wait 8d\n",
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "parley.db", PARLEY_SCHEDULER="off"),
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
    )
    out = ok(result)
    assert "Parley posted" not in out and "It is now Wed 6 Aug 2025 09:00 UTC." in out


def test_a_command_whose_text_says_payload_is_still_a_command(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/deadline add payload review | +3d", "/deadline"))
    assert "payload review" in section(out, "/deadline")


def test_an_alert_made_by_a_command_goes_out_at_once(tmp_path: Path) -> None:
    """Piped, the shell reads faster than its timer ticks: the alert is posted before the
    next line is read (before a digest asked for could list it), not at the next `:wait`."""
    extend = "/truce extend +90d | agreed"
    out = ok(shell(tmp_path, "/desk subscribe", extend, "/desk digest", ":wait 1h"))
    posted = re.findall(r"── Parley posted to #desk · (.+?) ──\n(.+)", section(out, extend))
    assert posted[0][0] == "Tue 29 Jul 2025 09:00 UTC"  # at the extension
    assert "the expiry moved from Tue 12 Aug 2025 00:01 EDT" in posted[0][1]
    assert "— already alerted" in section(out, "/desk digest")
    assert "the expiry moved" not in section(out, ":wait 1h")  # posted once


# ---- rendering -----------------------------------------------------------------------------


def test_piped_output_is_plain_and_without_slack_markup(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(PARLEY), "shell", "--as-of", AS_OF],
        input="/truce\n/deadline\n/desk help\n/truce public\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(tmp_path / "parley.db", TERM="xterm-256color", COLORTERM="truecolor"),
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
    )
    out = ok(result)
    assert "\x1b" not in out  # not a terminal: no ANSI codes, whatever TERM says
    for markup in ("*", "`", "&lt;", "&gt;", "&amp;", ":hourglass", "<@U", "<#C", "<!date"):
        assert markup not in out.replace("  *1. ", ""), markup
    truce = section(out, "/truce")
    assert "No extension recorded.\n" in truce  # was _No extension recorded._
    assert "US–China tariff truce (Geneva, 90 days)  ·  us-china\n" in truce
    assert "/desk search <words> — search the timeline" in section(out, "/desk help")
    public = section(out, "/truce public")
    assert public.startswith("── Parley posted to #desk · Tue 29 Jul 2025 09:00 UTC ──\n")
    assert section(out, "/truce").startswith("── only you can see this ──\n")


# ---- interrupting --------------------------------------------------------------------------


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """Reads the shell's stdout line by line until a line holds `text` (the shell is killed
    if it never comes: a watchdog, not a sleep, so no timing is guessed)."""
    assert process.stdout is not None
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    seen = ""
    try:
        while text not in seen:
            line = process.stdout.readline()
            assert line, (text, seen)
            seen += line
    finally:
        watchdog.cancel()
    return seen


def test_ctrl_c_in_a_form_cancels_it_and_the_shell_goes_on(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(PARLEY), "shell", "--as-of", AS_OF],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(tmp_path / "parley.db"),
        cwd=tmp_path,
    )
    assert process.stdin is not None
    process.stdin.write("/deadline new\nGhost\n")
    process.stdin.flush()
    form = read_until(process, "Title: Ghost")
    process.send_signal(signal.SIGINT)  # at the Due prompt (or just before it)
    form += read_until(process, "Form cancelled; nothing was saved.")
    rest, errors = process.communicate("/deadline\n", timeout=TIMEOUT)
    assert process.returncode == 0, (form, rest, errors)
    assert "Traceback" not in errors
    assert "Due: ^C\n" in form
    assert "UPCOMING" not in rest and "\nUpcoming deadlines (1)\n" in rest
    assert "Ghost" not in rest


# ---- on a terminal -------------------------------------------------------------------------

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[=>])")


class Terminal:
    """`parley shell` on a pseudo-terminal: keys in, the screen's text out (ANSI removed)."""

    def __init__(self, tmp_path: Path) -> None:
        self.master, slave = pty.openpty()
        env = clean_env(
            tmp_path / "parley.db",
            TERM="xterm-256color",
            PROMPT_TOOLKIT_NO_CPR="1",
            PARLEY_SHELL_HISTORY=str(tmp_path / "history"),
        )
        env.pop("NO_COLOR", None)
        self.process = subprocess.Popen(
            [str(PARLEY), "shell", "--as-of", AS_OF],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tmp_path,
            close_fds=True,
        )
        os.close(slave)
        self.raw = b""
        self.seen = 0

    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", errors="replace")).replace("\r", "")

    def expect(self, wanted: str) -> str:
        """Reads until `wanted` shows after what the last expect saw; returns the new text."""
        deadline = time.monotonic() + TIMEOUT
        while wanted not in self.text()[self.seen :]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, (wanted, self.text()[self.seen :])
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the shell has ended
                    chunk = b""
                assert chunk, (wanted, self.text()[self.seen :])
                self.raw += chunk
        text = self.text()
        end = text.index(wanted, self.seen) + len(wanted)
        new, self.seen = text[self.seen : end], end
        return new

    def send(self, keys: str) -> None:
        data = keys.encode()
        while data:  # a long paste may be taken in parts
            data = data[os.write(self.master, data) :]

    def close(self) -> int:
        """Waits for the shell to end and reads what it wrote last."""
        try:
            code = self.process.wait(timeout=TIMEOUT)
            while select.select([self.master], [], [], 0)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: nothing left on a pty whose other end is closed
                    break
                if not chunk:
                    break
                self.raw += chunk
            return code
        finally:
            os.close(self.master)


def test_on_a_terminal_tab_history_colour_ctrl_c_and_ctrl_d(tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    try:
        term.expect("parley>")
        term.send("/truce\r")  # (Tab completion: test_tab_completes_commands_and_topics)
        assert "Active truce" in term.expect("(1) Edit / extend")
        assert b"\x1b[1m" in term.raw  # styles on a terminal
        term.expect("parley>")
        term.send("/deadline new\r")
        term.expect("Title:")
        term.send("Ghost\x03")  # Ctrl-C in a form
        term.expect("Form cancelled; nothing was saved.")
        term.expect("parley>")
        term.send("\x1b[A")  # Up: the last command again
        term.expect("/deadline new")
        term.send("\x03")  # Ctrl-C at the prompt drops the line
        term.expect("parley>")
        term.send("/deadline new\r")
        term.expect("Title:")
        term.send("Typed kept\r")
        term.expect("Due:")
        term.send("blue moon\r")  # unreadable: said at once, asked again from what was typed
        term.expect('  ! Could not read "blue moon" as a time.')
        term.expect("\nDue: blue moon")
        term.send("\x15Jul 1 2025 10:00\r")  # Ctrl-U clears it; a time that reads, but past
        term.expect("→ read as Tue 1 Jul 2025 10:00 UTC")
        for _ in range(4):  # Kind, Track, Countdown offsets, Visibility: the defaults
            term.expect("):")
            term.send("\r")
        term.expect("The form has errors:")  # the app's own rule, shown at its field
        term.expect("  ! Due: That time")
        term.expect("\nDue: Jul 1 2025 10:00")  # asked again, starting from what was typed
        term.send("\x15+5d\r")
        term.expect("→ read as Sun 3 Aug 2025 09:01 UTC")
        term.expect("Deadline #2 added: Typed kept")
        term.expect("parley>")
        term.send("/truce extend +90d | agreed\r")  # the alert goes out at the next tick
        term.expect("extended by @you")
        # Printed while the prompt waits (or, if the tick came first, before it)…
        term.expect("Alert — US–China tariff truce")
        term.expect("parley>")  # …and a prompt drawn below it
        term.send("\x04")  # Ctrl-D leaves
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
    last = term.text().split("\n")
    assert last[-1] == "" and last[-2].startswith("parley>")  # Ctrl-D: ends on a fresh line
    assert "Traceback" not in term.text()
    assert "/truce" in (tmp_path / "history").read_text()


@pytest.mark.parametrize(
    ("flags", "first"),
    [([], "Seeded the founding case"), (["--fresh"], "Replaying in a fresh database")],
)
def test_a_closed_stdout_ends_the_shell_quietly(
    tmp_path: Path, flags: list[str], first: str
) -> None:
    """Closed after its first line, as `| head -1` does: with --fresh, the next start-up
    line already meets the closed pipe."""
    process = subprocess.Popen(
        [str(PARLEY), "shell", "--as-of", AS_OF, *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(tmp_path / "parley.db"),
        cwd=tmp_path,
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().startswith(first)
    process.stdout.close()  # as `parley shell | head -1` does
    process.stdin.write("/truce\n/deadline\n/watch\n" * 50)
    process.stdin.close()
    assert process.wait(timeout=TIMEOUT) == 0
    assert process.stderr is not None
    with process.stderr:
        assert process.stderr.read() == ""  # no traceback, no logged error


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        ("/tr", ["/truce"]),
        ("/", ["/truce", "/deadline", "/talks", "/watch", "/desk"]),
        ("/watch ta", ["taiwan"]),
        ("/deadline a", ["add"]),
        ("/nothing ", []),
    ],
)
def test_tab_completes_commands_and_topics(typed: str, offered: list[str]) -> None:
    """What Tab offers on a terminal, from the shell's own completion tree (the pty test
    above does not press Tab: prompt_toolkit completes asynchronously, so Enter could race it)."""
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from bot.shell_input import command_tree
    from bot.shell_prompt import WordCompleter

    completer = WordCompleter(command_tree(tracks=["us-china"], topics=["taiwan", "rare-earths"]))
    found = [c.text for c in completer.get_completions(Document(typed), CompleteEvent())]
    assert sorted(found) == sorted(offered)


def test_on_a_terminal_a_100_kb_paste_arrives_whole(tmp_path: Path) -> None:
    """A paste far over the 4,095 characters a terminal's own line discipline keeps: the
    line editor takes it whole (bracketed paste), and the command answers it."""
    term = Terminal(tmp_path)
    paste = "/desk search " + "x" * 100_000
    try:
        term.expect("parley>")
        # Written from a thread: the pty's buffers are small, and the shell echoes the
        # paste while it arrives, which this thread reads meanwhile.
        writer = threading.Thread(
            target=term.send, args=("\x1b[200~" + paste + "\x1b[201~\r",), daemon=True
        )
        writer.start()
        term.expect("Nothing matches “xxxxx")  # the whole line reached the command
        writer.join(timeout=TIMEOUT)
        term.expect("parley>")
        term.send("\x04")
        assert term.close() == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
    assert "Traceback" not in term.text()
