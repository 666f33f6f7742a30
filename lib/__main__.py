"""`python -m lib ...`: Seedscope's experiments, headless."""

import sys

from lib.cli import main

sys.exit(main())
