"""`python -m llmvet` runs the CLI, like the `llmvet` console script."""

import sys

from llmvet.cli import main

sys.exit(main())
