"""`python -m tui` is `svcscope`: tests use it so they run the checkout they are in."""

import sys

from tui.cli import main

sys.exit(main())
