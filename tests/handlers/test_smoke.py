from __future__ import annotations

from tests.support.bots import RunningBot


async def test_truce_over_http_shows_the_seeded_expiry(bot: RunningBot) -> None:
    response = await bot.command("/truce")
    assert response.status_code == 200
    body = response.json()
    text = str(body)
    assert "Tue 12 Aug 2025 00:01 EDT" in text
    assert "13 days 19 hours" in text
