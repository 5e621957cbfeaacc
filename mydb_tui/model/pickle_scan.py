"""Name the classes and functions a pickle would import, without unpickling it."""

from __future__ import annotations

import pickletools
from collections import deque


def pickle_globals(data: bytes) -> list[str]:
    """The `module.name` globals a pickle names (GLOBAL, STACK_GLOBAL, INST), in order, unique.

    Only opcodes are read (pickletools.genops), nothing is executed. Malformed data
    returns what was found before the error; this function never raises.
    """
    found: list[str] = []
    strings: deque[str | None] = deque([None, None], maxlen=2)  # the top of the stack, as far as STACK_GLOBAL needs it
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                _add(found, str(arg).replace(" ", "."))
            elif name == "STACK_GLOBAL":
                module, qualname = strings
                _add(found, f"{module or '?'}.{qualname or '?'}")
                strings.append(None)
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                          "STRING", "BINSTRING", "SHORT_BINSTRING"):
                strings.append(arg if isinstance(arg, str) else str(arg))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = strings[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                strings.append(memo.get(int(arg)))
            elif opcode.stack_before or opcode.stack_after:  # FRAME, PROTO... leave the stack alone
                strings.append(None)
    except Exception:  # malformed or truncated pickle: keep what was found
        pass
    return found


def _add(found: list[str], name: str) -> None:
    if name not in found:
        found.append(name)
