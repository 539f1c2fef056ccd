"""daphne on uvloop: `python -m config.serve <daphne arguments>` (the same arguments as `daphne`).

daphne runs Twisted's asyncio reactor on an event loop it creates when `daphne.server` is
imported; setting uvloop's event loop policy first makes that loop a uvloop loop (Twisted
supports it since 21.7). Every socket write and wake-up of the live layer goes through that
loop. Without uvloop installed this is plain daphne.
"""

from __future__ import annotations

import asyncio


def use_uvloop() -> bool:
    """Make new event loops uvloop loops, if uvloop is installed."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def main() -> None:
    use_uvloop()
    from daphne.cli import CommandLineInterface  # imports daphne.server: the loop is made here

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
