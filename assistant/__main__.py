"""`python -m assistant`: see `assistant.cli`."""

from .cli import main

raise SystemExit(main())
