"""What both front-ends read from the environment: the default database and the user.

`mydb` and `mydb-tui` take the same decisions here, so a database or a user name found
by one is the one the other finds too.
"""

from __future__ import annotations

import getpass
import os

#: The database folder used when neither an argument nor $MYDB_ROOT names one.
DEFAULT_ROOT = ".mytools_db"
#: The user recorded on writes when the system cannot tell who is logged in.
UNKNOWN_USER = "unknown"


def default_root() -> str:
    """$MYDB_ROOT when set (and not empty), else DEFAULT_ROOT."""
    return os.environ.get("MYDB_ROOT") or DEFAULT_ROOT


def default_user() -> str:
    """The login name, or UNKNOWN_USER when the system cannot tell (no $USER, no passwd entry)."""
    try:
        return getpass.getuser() or UNKNOWN_USER
    except Exception:  # getpass raises OSError or KeyError in containers without a passwd entry
        return UNKNOWN_USER
