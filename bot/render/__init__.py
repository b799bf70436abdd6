"""What Parley shows, as Block Kit built with slack_sdk's models and wording from `templates`:
record items (`present`), the posts the scheduler makes (`posts`, `digest`), changes in words
(`changelog`), and the Slack ids of buttons and form fields (`ids`).

A shared part: the listeners in `handlers` and the scheduler in `bot.scheduler` both import
it; it imports only storage and the base helpers (time, zones, settings), never a listener.
"""
