"""Intake: fetching news sources, parsing their entries, and polling them on the clock."""
