"""Screens and modals of mydb-tui (compare, restore, editor, confirm, add record, help, go to)."""
