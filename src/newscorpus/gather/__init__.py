"""Gathering: sources, fetch, guard, extract, language, topic, dedup."""
