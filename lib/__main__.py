"""`python -m seedscope ...`: Seedscope's experiments, headless."""

import sys

from seedscope.cli import main

sys.exit(main())
