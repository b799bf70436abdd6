"""Tests for the local Slack Web API stand-in, over real HTTP with slack_sdk's async clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import slack_requests as slack
from bot.local_slack import RecordedCall
from bot.slack_text import message_text
from tests.support.slack import BlockKitViolation, SlackStandIn, check_blocks, find_mention_problems


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, **extra}}


def modal(title: str = "Open talks", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "talks",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": "topic",
                "label": {"type": "plain_text", "text": "Topic"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        **extra,
    }


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    server = SlackStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def client(standin: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=standin.api_url)


async def raw_post(url: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, **kwargs) as resp:
            body = await resp.text()
            ctype = resp.content_type
            return (
                resp.status,
                json.loads(body) if ctype == "application/json" else body,
                dict(resp.headers),
            )


# --------------------------------------------------------------------------- basics


async def test_api_url_and_auth_test_is_recorded(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    assert standin.api_url.startswith("http://127.0.0.1:")
    assert standin.api_url.endswith("/api/")
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == "UPARLEYBOT"
    assert resp["team_id"] == "T0LOCAL"
    assert resp["bot_id"] == "B0PARLEY"
    assert resp["url"] == "https://parley-local.slack.com/"
    [call] = standin.calls_to("auth.test")
    assert call.token == "xoxb-test"
    assert call.status == 200
    assert call.at > 0


async def test_bot_user_id_is_configurable() -> None:
    async with SlackStandIn(bot_user_id="UOTHERBOT") as server:
        client = AsyncWebClient(token="xoxb-x", base_url=server.api_url)
        assert (await client.auth_test())["user_id"] == "UOTHERBOT"


async def test_missing_or_wrong_token_is_rejected(standin: SlackStandIn) -> None:
    no_token = AsyncWebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError) as exc:
        await no_token.auth_test()
    assert exc.value.response["error"] == "not_authed"
    user_token = AsyncWebClient(token="xoxp-user", base_url=standin.api_url)
    with pytest.raises(SlackApiError) as exc:
        await user_token.auth_test()
    assert exc.value.response["error"] == "invalid_auth"
    assert [c.token for c in standin.calls] == [None, "xoxp-user"]


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("chat.teleport", json={"channel": "C1"})
    assert exc.value.response.status_code == 200
    assert exc.value.response["error"] == "unknown_method"


# --------------------------------------------------------------------------- messages


async def test_post_message_records_args_and_answers_like_slack(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    blocks = [section("*Truce* holds")]
    first = await client.chat_postMessage(channel="C0DESK", text="Truce holds", blocks=blocks)
    second = await client.chat_postMessage(channel="C0DESK", text="again", thread_ts=first["ts"])
    assert first["channel"] == "C0DESK"
    assert first["ts"] == "1753779600.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["bot_id"] == "B0PARLEY"
    assert first["message"]["blocks"] == blocks
    assert second["message"]["thread_ts"] == first["ts"]
    calls = standin.calls_to("chat.postMessage")
    assert [c.args["text"] for c in calls] == ["Truce holds", "again"]
    assert calls[0].args["blocks"] == blocks
    assert [m["text"] for m in standin.messages("C0DESK")] == ["Truce holds", "again"]
    assert standin.violations == []


async def test_chat_update_replaces_stored_message(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0DESK", text="round 1")
    updated = await client.chat_update(
        channel="C0DESK", ts=posted["ts"], text="round 2", blocks=[section("round 2")]
    )
    assert updated["ts"] == posted["ts"]
    assert updated["channel"] == "C0DESK"
    assert updated["text"] == "round 2"
    stored = standin.message("C0DESK", posted["ts"])
    assert stored is not None and stored["text"] == "round 2"
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel="C0DESK", ts="1.000000", text="nope")
    assert exc.value.response["error"] == "message_not_found"


async def test_post_ephemeral_and_delete(standin: SlackStandIn, client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel="C0DESK", user="U1", text="only you")
    assert eph["message_ts"]
    assert standin.messages("C0DESK") == []
    posted = await client.chat_postMessage(channel="C0DESK", text="bye")
    await client.chat_delete(channel="C0DESK", ts=posted["ts"])
    assert standin.messages("C0DESK") == []
    assert standin.calls_to("chat.postEphemeral")[0].args["user"] == "U1"


async def test_no_text_is_rejected(standin: SlackStandIn) -> None:
    status, body, _ = await raw_post(
        standin.api_url + "chat.postMessage",
        json={"channel": "C1"},
        headers={"Authorization": "Bearer xoxb-test"},
    )
    assert status == 200
    assert body == {"ok": False, "error": "no_text"}


async def test_form_encoded_body_decodes_json_fields(standin: SlackStandIn) -> None:
    blocks = [section("from a form")]
    status, body, _ = await raw_post(
        standin.api_url + "chat.postMessage",
        data={"channel": "C1", "text": "hi", "blocks": json.dumps(blocks), "token": "xoxb-f"},
    )
    assert status == 200 and body["ok"] is True
    [call] = standin.calls_to("chat.postMessage")
    assert call.args == {"channel": "C1", "text": "hi", "blocks": blocks}
    assert call.token == "xoxb-f"


async def test_invalid_json_body(standin: SlackStandIn) -> None:
    _, body, _ = await raw_post(
        standin.api_url + "chat.postMessage",
        data="{not json",
        headers={"Authorization": "Bearer xoxb-t", "Content-Type": "application/json"},
    )
    assert body == {"ok": False, "error": "invalid_json"}


# --------------------------------------------------------------------------- users, channels


async def test_users_info_defaults_custom_and_unknown(client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U0ANNA"))["user"]
    assert user["id"] == "U0ANNA"
    assert user["name"] == "u0anna"
    assert user["tz"] == "Europe/Stockholm"
    assert user["tz_offset"] == 7200
    assert user["is_bot"] is False
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="nobody")
    assert exc.value.response["error"] == "user_not_found"


async def test_users_info_uses_given_users() -> None:
    users = {"U0BOB": {"real_name": "Bob Baker", "tz": "America/New_York", "tz_offset": -14400}}
    async with SlackStandIn(users=users) as server:
        client = AsyncWebClient(token="xoxb-t", base_url=server.api_url)
        user = (await client.users_info(user="U0BOB"))["user"]
        assert user["real_name"] == "Bob Baker"
        assert user["tz"] == "America/New_York"
        assert user["id"] == "U0BOB"
        assert server.calls_to("users.info")[0].args == {"user": "U0BOB"}


async def test_conversations_info(client: AsyncWebClient) -> None:
    public = (await client.conversations_info(channel="C0DESK"))["channel"]
    private = (await client.conversations_info(channel="G0SECRET"))["channel"]
    assert public["id"] == "C0DESK" and public["is_private"] is False
    assert private["is_private"] is True
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_info(channel="#general")
    assert exc.value.response["error"] == "channel_not_found"


# --------------------------------------------------------------------------- failures


async def test_fail_next_answers_429_with_retry_after(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    standin.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="hi")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "1"
    assert exc.value.response["error"] == "ratelimited"
    ok = await client.chat_postMessage(channel="C1", text="hi")
    assert ok["ok"] is True
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 200]


async def test_rate_limit_retry_handler_retries_and_succeeds(standin: SlackStandIn) -> None:
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=standin.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail_next("chat.postMessage", retry_after=0)
    resp = await client.chat_postMessage(channel="C1", text="eventually")
    assert resp["ok"] is True
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 200]


async def test_fail_next_other_status_and_times(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    standin.fail_next("users.info", status=500, error="internal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            await client.users_info(user="U1")
        assert exc.value.response.status_code == 500
        assert "Retry-After" not in exc.value.response.headers
    assert (await client.users_info(user="U1"))["ok"] is True


async def test_fail_with_error(standin: SlackStandIn, client: AsyncWebClient) -> None:
    standin.fail_with_error("chat.postMessage", "channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            await client.chat_postMessage(channel="C1", text="hi")
        assert exc.value.response.status_code == 200
        assert exc.value.response.data == {"ok": False, "error": "channel_not_found"}
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True


async def test_rate_limit_per_channel(standin: SlackStandIn, client: AsyncWebClient) -> None:
    standin.rate_limit_per_channel = 1.0
    await client.chat_postMessage(channel="C1", text="one")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="two")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="C2", text="other channel is fine")
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [200, 429, 200]


async def test_rate_limit_per_channel_allows_spaced_posts(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    standin.rate_limit_per_channel = 20.0
    await client.chat_postMessage(channel="C1", text="one")
    await asyncio.sleep(0.06)
    await client.chat_postMessage(channel="C1", text="two")
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [200, 200]


# --------------------------------------------------------------------------- Block Kit


async def test_51_blocks_is_a_violation(standin: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(
            channel="C1", text="long", blocks=[section(f"row {i}") for i in range(51)]
        )
    assert exc.value.response["error"] == "invalid_blocks"
    assert any("51 blocks (max 50)" in e for e in exc.value.response["errors"])
    assert any("51 blocks" in v for v in standin.violations)
    await client.chat_postMessage(
        channel="C1", text="ok", blocks=[section(f"row {i}") for i in range(50)]
    )
    assert len(standin.violations) == 1


async def test_3001_char_section_is_a_violation(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3001)])
    assert exc.value.response["error"] == "invalid_blocks"
    assert standin.violations
    with pytest.raises(BlockKitViolation):
        standin.assert_no_violations()
    await client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3000)])


async def test_section_fields_limits() -> None:
    eleven = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    long_field = {"type": "section", "fields": [{"type": "plain_text", "text": "y" * 2001}]}
    assert any("11 fields" in p for p in check_blocks([eleven]))
    assert any("2001 chars (max 2000)" in p for p in check_blocks([long_field]))
    assert check_blocks([{"type": "section", "fields": [{"type": "mrkdwn", "text": "ok"}]}]) == []


async def test_header_too_long_and_unknown_block() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    assert check_blocks([header])
    assert any("unknown block type" in p for p in check_blocks([{"type": "hologram"}]))


async def test_update_and_ephemeral_are_checked_too(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="ok")
    with pytest.raises(SlackApiError):
        await client.chat_update(channel="C1", ts=posted["ts"], text="t", blocks=[section("")])
    with pytest.raises(SlackApiError):
        await client.chat_postEphemeral(
            channel="C1", user="U1", text="t", blocks=[section("z" * 3001)]
        )
    assert len(standin.violations) == 2


async def test_non_strict_records_but_accepts() -> None:
    async with SlackStandIn(strict=False) as server:
        client = AsyncWebClient(token="xoxb-t", base_url=server.api_url)
        resp = await client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3001)])
        assert resp["ok"] is True
        assert len(server.violations) == 1
        assert "3001 chars" in server.violations[0]


async def test_top_level_text_over_40000(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C1", text="a" * 40001)
    assert exc.value.response["error"] == "msg_too_long"


# --------------------------------------------------------------------------- mention tripwire


@pytest.mark.parametrize(
    "text_obj",
    [
        {"type": "mrkdwn", "text": "hey <!channel>"},
        {"type": "mrkdwn", "text": "hey <!here|here>", "verbatim": True},
        {"type": "mrkdwn", "text": "<!everyone> look"},
        {"type": "mrkdwn", "text": "ping @everyone now"},
        {"type": "mrkdwn", "text": "@here: truce"},
        {"type": "mrkdwn", "text": "cc @channel", "verbatim": False},
    ],
)
async def test_mention_tripwire_flags(
    standin: SlackStandIn, client: AsyncWebClient, text_obj: dict[str, Any]
) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(
            channel="C1", text="t", blocks=[{"type": "section", "text": text_obj}]
        )
    assert exc.value.response["error"] == "invalid_blocks"
    assert "workspace-wide ping" in standin.violations[0]


@pytest.mark.parametrize(
    "text_obj",
    [
        {"type": "mrkdwn", "text": "ping @everyone now", "verbatim": True},
        {"type": "mrkdwn", "text": "escaped &lt;!channel&gt; is fine"},
        {"type": "plain_text", "text": "@here in plain text does not ping"},
        {"type": "mrkdwn", "text": "mail desk@here.example"},
    ],
)
async def test_mention_tripwire_allows(
    standin: SlackStandIn, client: AsyncWebClient, text_obj: dict[str, Any]
) -> None:
    await client.chat_postMessage(
        channel="C1", text="t", blocks=[{"type": "section", "text": text_obj}]
    )
    assert standin.violations == []


async def test_mention_tripwire_in_context_fields_and_top_level_text(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "by @here"}]}
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="t", blocks=[context])
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="alert <!channel>")
    assert len(standin.violations) == 2
    assert find_mention_problems({"text": "plain @here is not parsed"}) == []


async def test_mention_tripwire_on_response_url(standin: SlackStandIn) -> None:
    webhook = AsyncWebhookClient(standin.response_url())
    resp = await webhook.send(text="t", blocks=[section("<!here> ping")])
    assert resp.status_code == 400
    assert resp.body == "invalid_blocks"
    assert standin.violations


# --------------------------------------------------------------------------- response_url


async def test_response_url_posts_are_recorded(standin: SlackStandIn) -> None:
    url = standin.response_url("cmd-1")
    assert url.startswith(standin.base_url + "/response/")
    webhook = AsyncWebhookClient(url)
    resp = await webhook.send(text="Truce listed", response_type="ephemeral")
    assert resp.status_code == 200
    assert resp.body == "ok"
    [call] = await standin.wait_for("response_url")
    assert call.args["response_url_id"] == "cmd-1"
    assert call.args["text"] == "Truce listed"
    assert call.args["response_type"] == "ephemeral"
    assert call.token is None


async def test_response_urls_are_fresh(standin: SlackStandIn) -> None:
    a, b = standin.response_url(), standin.response_url()
    assert a != b
    await AsyncWebhookClient(b).send(text="second")
    [call] = standin.calls_to("response_url")
    assert b.endswith("/" + call.args["response_url_id"])


async def test_response_url_replace_original_updates_bound_message(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="vote?")
    url = standin.response_url(channel="C1", message_ts=posted["ts"])
    await AsyncWebhookClient(url).send(text="voted", replace_original=True)
    stored = standin.message("C1", posted["ts"])
    assert stored is not None and stored["text"] == "voted"
    await AsyncWebhookClient(url).send_dict({"delete_original": True})
    assert standin.messages("C1") == []


async def test_response_url_failure(standin: SlackStandIn) -> None:
    standin.fail_next("response_url", status=404, error="expired_url")
    resp = await AsyncWebhookClient(standin.response_url()).send(text="late")
    assert resp.status_code == 404
    assert resp.body == "expired_url"
    assert standin.calls_to("response_url")[0].status == 404


# --------------------------------------------------------------------------- views


async def test_views_open_and_update(standin: SlackStandIn, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id="123.456.abc", view=modal()))["view"]
    assert opened["id"].startswith("V")
    assert opened["hash"]
    assert opened["state"] == {"values": {}}
    assert opened["callback_id"] == "talks"
    updated = (
        await client.views_update(
            view_id=opened["id"], view=modal("Talks (2)"), hash=opened["hash"]
        )
    )["view"]
    assert updated["id"] == opened["id"]
    assert updated["title"]["text"] == "Talks (2)"
    assert standin.views[opened["id"]]["title"]["text"] == "Talks (2)"
    with pytest.raises(SlackApiError) as exc:
        await client.views_update(view_id="VNOPE", view=modal())
    assert exc.value.response["error"] == "not_found"
    with pytest.raises(SlackApiError) as exc:
        await client.views_update(view_id=opened["id"], view=modal(), hash="stale")
    assert exc.value.response["error"] == "hash_conflict"


async def test_views_push_and_external_id(client: AsyncWebClient) -> None:
    pushed = (await client.views_push(trigger_id="1.2.3", view=modal(external_id="ext-1")))["view"]
    updated = (await client.views_update(external_id="ext-1", view=modal("Renamed")))["view"]
    assert updated["id"] == pushed["id"]


async def test_view_title_of_25_chars_is_a_violation(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id="1.2.3", view=modal("t" * 25))
    assert exc.value.response["error"] == "invalid_blocks"
    assert any("title" in v for v in standin.violations)
    await client.views_open(trigger_id="1.2.3", view=modal("t" * 24))
    assert len(standin.violations) == 1


async def test_view_with_101_blocks_is_a_violation(client: AsyncWebClient) -> None:
    view = {
        "type": "home",
        "blocks": [section(f"line {i}") for i in range(101)],
    }
    with pytest.raises(SlackApiError) as exc:
        await client.views_publish(user_id="U1", view=view)
    assert any("101 blocks (max 100)" in e for e in exc.value.response["errors"])


async def test_views_publish(standin: SlackStandIn, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [section("Your desk")]}
    first = (await client.views_publish(user_id="U1", view=home))["view"]
    second = (await client.views_publish(user_id="U1", view=home))["view"]
    assert first["type"] == "home"
    assert first["id"] == second["id"]
    assert standin.home_views["U1"]["blocks"] == home["blocks"]
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("views.publish", json={"view": home})
    assert exc.value.response["error"] == "invalid_arguments"


# --------------------------------------------------------------------------- hooks and waiting


async def test_on_call_sync_and_async() -> None:
    seen: list[str] = []

    async def async_hook(call: RecordedCall) -> None:
        await asyncio.sleep(0)
        seen.append("async:" + call.method)

    def sync_hook(call: RecordedCall) -> None:
        seen.append("sync:" + call.method)

    for hook in (async_hook, sync_hook):
        async with SlackStandIn(on_call=hook) as server:
            client = AsyncWebClient(token="xoxb-t", base_url=server.api_url)
            await client.chat_postMessage(channel="C1", text="hi")
    assert seen == ["async:chat.postMessage", "sync:chat.postMessage"]


async def test_on_call_errors_do_not_break_the_bot(caplog: pytest.LogCaptureFixture) -> None:
    def broken(call: RecordedCall) -> None:
        raise RuntimeError("printer jammed")

    async with SlackStandIn(on_call=broken) as server:
        client = AsyncWebClient(token="xoxb-t", base_url=server.api_url)
        assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"] is True
    assert "on_call hook failed" in caplog.text


async def test_wait_for_background_calls(standin: SlackStandIn, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C1", text="two")

    task = asyncio.create_task(later())
    calls = await standin.wait_for("chat.postMessage", count=2, timeout=3)
    await task
    assert [c.args["text"] for c in calls] == ["one", "two"]


async def test_wait_for_times_out(standin: SlackStandIn) -> None:
    with pytest.raises(TimeoutError, match="chat.postMessage"):
        await standin.wait_for("chat.postMessage", timeout=0.05)


async def test_wait_for_after_a_mark_ignores_the_calls_recorded_before_it(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", text="earlier")
    mark = standin.mark()
    waiting = asyncio.create_task(standin.next_call("chat.postMessage", after=mark, timeout=3))
    held = standin.hold("chat.postMessage")
    posting = asyncio.create_task(client.chat_postMessage(channel="C1", text="later"))
    await held.arrived.wait()
    assert not waiting.done()  # the earlier call, already recorded, does not answer the wait
    held.release()
    await posting
    assert (await waiting).args["text"] == "later"
    assert [c.args["text"] for c in await standin.wait_for("chat.postMessage")] == [
        "earlier",
        "later",
    ]


async def test_wait_for_where_picks_the_matching_call(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    mark = standin.mark()
    for text in ("one", "two", "three"):
        await client.chat_postMessage(channel="C1", text=text)
    call = await standin.next_call(
        "chat.postMessage", after=mark, where=lambda c: c.args["text"].startswith("t")
    )
    assert call.args["text"] == "two"
    with pytest.raises(TimeoutError, match="after call #3"):
        await standin.next_call("chat.postMessage", after=standin.mark(), timeout=0.05)


async def test_a_mark_taken_before_a_reset_still_means_later_calls(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C1", text="before")
    mark = standin.mark()
    standin.reset()
    await client.chat_postMessage(channel="C1", text="after")
    assert [c.args["text"] for c in standin.calls_since(mark, "chat.postMessage")] == ["after"]
    assert standin.calls_since(standin.mark(), "chat.postMessage") == []


async def test_a_held_response_url_post_is_recorded_when_released(
    standin: SlackStandIn,
) -> None:
    held = standin.hold("response_url")
    url = standin.response_url()
    async with aiohttp.ClientSession() as session:
        posting = asyncio.create_task(session.post(url, json={"text": "late reply"}))
        await held.arrived.wait()
        assert standin.calls_to("response_url") == []
        held.release()
        async with await posting as response:
            assert response.status == 200
    assert standin.calls_to("response_url")[0].args["text"] == "late reply"


async def test_reset(standin: SlackStandIn, client: AsyncWebClient) -> None:
    standin.fail_with_error("auth.test", "fatal_error")
    await client.chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="t", blocks=[section("x" * 3001)])
    standin.reset()
    assert standin.calls == [] and standin.violations == []
    assert standin.messages("C1") == []
    assert (await client.auth_test())["ok"] is True


# --------------------------------------------------------------------------- message_text


async def test_bolt_app_talks_to_the_standin(standin: SlackStandIn) -> None:
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-bolt", base_url=standin.api_url), signing_secret="s"
    )

    @app.command("/parley")
    async def handle(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(channel="C0DESK", text="posted")
        await respond(text="only for you")

    form = slack.slash_command(
        "/parley",
        "list",
        user="U0ANNA",
        channel="C0DESK",
        response_url=standin.response_url("slash"),
    )
    body = slack.form_body(form)
    headers = slack.signed_headers(body, "s")
    request = AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
    response = await app.async_dispatch(request)
    assert response.status == 200
    [reply] = await standin.wait_for("response_url")
    assert message_text(reply.args) == "only for you"
    assert reply.args["response_url_id"] == "slash"
    [post] = await standin.wait_for("chat.postMessage")
    assert post.token == "xoxb-bolt"
    assert standin.calls_to("auth.test")
