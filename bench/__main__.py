"""``make bench``: every benchmark, each printed against a baseline measured in the same run."""

from __future__ import annotations

import sys

from bench import api, channels, correlation, webhooks


def main(argv: list[str]) -> None:
    wanted = set(argv) or {"api", "webhooks", "correlation", "web", "channels"}
    if "webhooks" in wanted:
        webhooks.main()
    if "correlation" in wanted:
        correlation.main()
    if "api" in wanted:
        api.main()
    if "web" in wanted:
        from bench import web

        web.main([])
    if "channels" in wanted:
        channels.main()
    if "e2e" in wanted:
        from bench import e2e_operator

        e2e_operator.main([])


if __name__ == "__main__":
    main(sys.argv[1:])
