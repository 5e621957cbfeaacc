"""Widgets of the main screen: entry tree, timeline, viewer (metadata, JSON tree, record table)."""
