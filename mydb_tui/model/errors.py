"""How a worker's failure reads on screen.

The engine raises DbEngineError subclasses whose messages say what is wrong and where;
anything else reaching a worker (an engine bug, or damage nothing checks yet) is shown
with its type name too, for that entry or version only: the app goes on.
"""

from __future__ import annotations

from dbengine.errors import DbEngineError


def error_text(error: BaseException) -> str:
    """The message of an engine error; `TypeName: message` of any other exception."""
    if isinstance(error, DbEngineError):
        return str(error)
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
