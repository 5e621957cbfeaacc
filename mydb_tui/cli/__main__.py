"""`python -m mydb_tui.cli`: the same as the `mydb` console script."""

import sys

from . import main

sys.exit(main())
