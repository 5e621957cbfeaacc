"""`python -m mydb_tui.cli`: the same as the `mydb` console script."""

import sys

from .main import main

sys.exit(main())
