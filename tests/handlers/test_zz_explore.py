import json
from urllib.parse import urlencode
from tests.conftest import RunningBot, LEAD, MEMBER, ADMIN, sign
from handlers.ids import Field, Action, Callback

async def test_explore(bot: RunningBot) -> None:
    out = []
    r = await bot.command("/truce", "edit", user=LEAD)
    out.append(f"edit ack {r.status_code} {r.text!r}")
    view = await bot.opened_view()
    out.append(json.dumps(view, indent=1)[:3000])
    r = await bot.submit_view(view, {"terms": "United States | tariff | 20% | China", "expiry": "soonish"}, user=LEAD)
    out.append(f"submit bad expiry: {r.status_code} {r.text}")
    r = await bot.command("/truce", "", user=LEAD)
    out.append("truce after: " + r.json()["blocks"][1]["text"]["text"])
    bodies = [
        "payload=notjson", "payload=1", "payload=" + json.dumps({"type":"block_actions","actions":[]}),
        "payload=" + json.dumps({"actions":[{"action_id":"x"}]}), "", "foo=bar", "payload=%5B%5D",
        "payload=" + json.dumps({"type":"block_actions","actions":[{"action_id": 5}]}),
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": 5, "state": "x"}}),
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": "parley.event_form", "state": {"values": []}}}),
        "payload=" + json.dumps({"type":"shortcut"}),
        "payload=" + json.dumps({"type":"block_actions","actions":[{"action_id":"parley.open_event_form"}], "user": {"id": 5}}),
        "command=%2Ftruce",
        "command=%2Ftruce&text=%00",
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": "parley.truce_form", "private_metadata": "[1]", "state": {"values": {}}}, "user": {"id": "UADMIN01"}}),
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": "parley.deadline_form", "private_metadata": "{\"item_id\": true}", "state": {"values": {}}}, "user": {"id": "UADMIN01"}}),
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": "parley.deadline_form", "private_metadata": "{}", "state": {"values": {"title": "x"}}}, "user": {"id": "UADMIN01"}}),
        "payload=" + json.dumps({"type":"view_submission","view":{"callback_id": "parley.deadline_form", "private_metadata": "{}", "state": {"values": {"title": {"value": ["x"]}}}}, "user": {"id": "UADMIN01"}}),
    ]
    for b in bodies:
        for signed in (False, True):
            h = sign(b) if signed else {"content-type": "application/x-www-form-urlencoded"}
            r = await bot.http.post(f"{bot.url}/slack/events", content=b, headers=h)
            out.append(f"{signed} {b[:120]!r} -> {r.status_code} {r.text[:200]}")
    r = await bot.http.get(f"{bot.url}/healthz")
    out.append(f"healthz {r.status_code} {r.text}")
    with open("/tmp/explore/out2.txt", "w") as f:
        f.write("\n".join(out))
