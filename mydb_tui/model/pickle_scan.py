"""Name the classes and functions a pickle would import, without unpickling it."""

from __future__ import annotations

import pickletools


def pickle_globals(data: bytes) -> list[str]:
    """The `module.name` globals a pickle names (GLOBAL, STACK_GLOBAL, INST), in order, unique.

    Only opcodes are read (pickletools.genops), nothing is executed. Malformed data
    returns what was found before the error; this function never raises.
    """
    found: list[str] = []
    strings: list[str | None] = []  # recent string pushes, the operands of STACK_GLOBAL
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                _add(found, str(arg).replace(" ", "."))
            elif name == "STACK_GLOBAL":
                module = strings[-2] if len(strings) >= 2 else None
                qualname = strings[-1] if strings else None
                _add(found, f"{module or '?'}.{qualname or '?'}")
                strings.append(None)
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                          "STRING", "BINSTRING", "SHORT_BINSTRING"):
                strings.append(arg if isinstance(arg, str) else str(arg))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = strings[-1] if strings else None
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                strings.append(memo.get(int(arg)))
            else:
                strings.append(None)
    except Exception:  # malformed or truncated pickle: keep what was found
        pass
    return found


def _add(found: list[str], name: str) -> None:
    if name not in found:
        found.append(name)
