"""Parley: a Slack bot for negotiation-desk teams."""

__version__ = "0.1.0"
