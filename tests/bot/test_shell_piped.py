"""`parley shell` through a pipe, as scripts use it: `--strict`'s exit status, the local
people and `:as`, mentions as Slack sends them, and bad input (never a traceback)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bot.test_shell import AS_OF, after, section, shell
from tests.support.cli import PARLEY, TIMEOUT, clean_env, ok

# (lines, exit status with --strict): without --strict every one exits 0.
STRICT = [
    (["/truce", "/deadline", ":now"], 0),
    (["/desk lead add @alice", "/desk lead list"], 0),
    (["/nope"], 1),  # an unknown command
    (["/deadline frobnicate"], 1),  # an unknown subcommand: the usage
    (["hello"], 1),  # not a command at all
    (["99"], 1),  # no such button
    ([":wait soon"], 1),
    ([":as @zed"], 1),  # no such person
    ([":as @bob", "/truce extend +30d"], 1),  # refused: a member
    ([":as @bob /desk lead add @alice"], 1),  # refused: not an admin
    (["/watch no-such-topic"], 1),  # not found
    (["/deadline add Past | 2024-01-01 10:00"], 1),  # a past deadline
    (["/deadline new", "Half typed"], 1),  # input ended in the middle of a form
    (["/deadline new", "/cancel", "/truce"], 0),  # a form given up on purpose
    (["/deadline new", "Fixed", "Jul 1 2025", "", "", "", "", "+3d"], 0),  # put right
]


@pytest.mark.parametrize(("lines", "status"), STRICT)
def test_strict_exit_status_tells_a_script_whether_every_line_went_through(
    tmp_path: Path, lines: list[str], status: int
) -> None:
    result = shell(tmp_path, *lines, flags=["--strict"])
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    for line in lines:
        assert f"{line}\n" in result.stdout  # each line echoed on its own


def test_without_strict_a_refused_or_unknown_line_still_exits_0(tmp_path: Path) -> None:
    out = ok(shell(tmp_path, "/nope", "/deadline frobnicate", ":as @bob", "/truce extend +3d"))
    assert "Unknown command '/nope'" in out
    assert "Only a desk lead can change the record." in out


def test_the_people_here_and_acting_as_one(tmp_path: Path) -> None:
    out = ok(
        shell(
            tmp_path,
            ":as",
            ":as @lena /deadline add Lena's deadline | +3d",  # a lead, seeded as one
            ":as @alice /deadline add Alice's deadline | +3d",  # a member: refused
            "/desk lead add @alice",  # the admin (you) names her
            ":as @alice",
            "/deadline add Alice's deadline | +4d",
            "/desk lead list",
        )
    )
    people = section(out, ":as")
    assert "  *@you    You, admin\n" in people
    assert "   @lena   Lena Fischer, lead\n" in people
    assert "   @alice  Alice Moreau, member\n" in people
    assert "Deadline #2 added: Lena's deadline" in out
    alice_first = section(out, ":as @alice /deadline add Alice's deadline | +3d")
    assert alice_first.startswith("── only @alice can see this ──\nOnly a desk lead")
    assert "@alice is now a lead." in section(out, "/desk lead add @alice")
    assert "Deadline #3 added: Alice's deadline" in after(out, ":as @alice")
    assert "parley (as @alice)> /desk lead list\n" in out
    assert "Only an admin can name or remove leads." not in out  # listing is for everyone


def test_a_mention_is_sent_as_slack_sends_it(tmp_path: Path) -> None:
    """`/desk` has should_escape: a known @name arrives as <@U…|name>, an unknown one as
    the text it is, which the command refuses with its usage."""
    out = ok(shell(tmp_path, "/desk lead add @bob", "/desk lead add @nobody", "/desk lead list"))
    assert "@bob is now a lead." in section(out, "/desk lead add @bob")
    assert "No Slack user is '@nobody' here" in section(out, "/desk lead add @nobody")
    assert "Leads: @lena, @bob" in section(out, "/desk lead list")


def test_the_manifest_and_the_shell_agree_on_escaped_commands() -> None:
    import yaml

    from bot.local_desk import ESCAPED_COMMANDS

    manifest = Path(__file__).parents[2] / "deploy" / "slack-manifest.yaml"
    commands = yaml.safe_load(manifest.read_text())["features"]["slash_commands"]
    assert {c["command"] for c in commands if c.get("should_escape")} == ESCAPED_COMMANDS


def test_bad_input_gets_clear_answers_and_no_traceback(tmp_path: Path) -> None:
    script = (
        b"/truce \x1b[31mpublic\x1b[0m\n"  # a pasted colour sequence
        b"/desk search \xff\xfe taiwan\n"  # not UTF-8
        b"/desk search " + b"x" * 100_000 + b"\n"  # a 100 kB paste
        b"/deadline add " + b"y" * 100_000 + b" | +3d\n"
        b"\x00\x01/talks\n"
    )
    result = subprocess.run(
        [str(PARLEY), "shell", "--as-of", AS_OF],
        input=script,
        capture_output=True,
        env=clean_env(tmp_path / "parley.db"),
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=False,
    )
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, (out[-2000:], result.stderr)
    assert result.stderr == b""  # no traceback, no logged error
    # the escape sequence dropped whole: a `public` answer, posted to the channel
    assert "parley> /truce public\n── Parley posted to #desk · " in out
    assert "(this line is not valid UTF-8: what could not be read shows as \ufffd)" in out
    assert "parley> /desk search " + "x" * 100_000 + "\n" in out  # taken whole
    assert "Nothing matches “xxxxx" in out  # the search reads what it can use of it
    assert "The title is 100000 characters long; the limit is 150." in out
    assert "parley> /talks\n── only you can see this ──\nLatest talks" in out


def test_slacks_own_field_checks_are_made_as_the_field_is_typed(tmp_path: Path) -> None:
    """A required input left empty, a title over its max_length: said at once, as Slack's
    client does, and asked again starting from what was typed."""
    long_title = "t" * 151
    out = ok(
        shell(
            tmp_path,
            "/deadline new",
            "",  # Title: required
            long_title,  # over 150
            "Short title",
            "+3d",
            "",
            "",
            "",
            "",
        )
    )
    form = section(out, "/deadline new")
    assert "\nTitle: \n  ! This field is required.\n" in form
    assert (
        f"\nTitle: {long_title}\n  ! At most 150 characters here; this is 151: shorten it.\n"
        in (form)
    )
    assert f"\nTitle [{long_title}]: Short title\n" in form
    assert "The form has errors:" not in form
    assert "Deadline #2 added: Short title" in form
