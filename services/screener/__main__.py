"""Entry point: `python -m services.screener`."""

from __future__ import annotations

import uvloop

from services.screener.consumer import main

if __name__ == "__main__":
    uvloop.run(main())
