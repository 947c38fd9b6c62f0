"""Entry point: `python -m services.validator`."""

from __future__ import annotations

import uvloop

from services.validator.consumer import main

if __name__ == "__main__":
    uvloop.run(main())
