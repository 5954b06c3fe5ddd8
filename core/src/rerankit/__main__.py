"""``python -m rerankit``: the same command line as the ``rerankit`` executable."""

from rerankit.cli import main

raise SystemExit(main())
