"""No widget, screen or app of mydb_tui defines a method named `key_<name>`: Textual calls
such a method when the key <name> is pressed (`key_at` ran on "@"). Keys are bindings here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from textual.message_pump import MessagePump

import mydb_tui
import mydb_tui.screens
import mydb_tui.widgets


def _ui_classes() -> list[type]:
    modules = [importlib.import_module("mydb_tui.app")]
    for package in (mydb_tui.screens, mydb_tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return [cls for module in modules for _name, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, MessagePump) and cls.__module__ == module.__name__]


def test_no_ui_class_has_a_method_textual_would_take_for_a_key_handler() -> None:
    classes = _ui_classes()
    assert len(classes) > 20  # the walk found the app, the screens and the widgets
    # A mixin's methods (the app's action modules) count as the class's own.
    own = {klass for cls in classes for klass in cls.__mro__ if klass.__module__.startswith("mydb_tui")}
    offenders = [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls in own
                 for name in vars(cls) if name.startswith("key_") and callable(vars(cls)[name])]
    assert offenders == []
