"""Entry point: `python -m services.aggregator`."""

from __future__ import annotations

import uvloop

from services.aggregator.consumer import main

if __name__ == "__main__":
    uvloop.run(main())
