"""``python -m rolecall.mock``: serve the mock model until interrupted.

The base URL goes alone on the first line of stdout, so a script can capture it
(``url=$(python -m rolecall.mock --port 0 | head -n 1)``); notes go to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from rolecall.mock._server import LOCALHOST, MockServer, is_loopback
from rolecall.mock._settings import ROLES, MockSettings


def _fail_role(text: str) -> tuple[str, int]:
    role, _, count = text.partition("=")
    if role not in ROLES:
        raise argparse.ArgumentTypeError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    try:
        return role, int(count) if count else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the count after '=' must be an integer (-1: all)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rolecall.mock",
        description="Serve rolecall's deterministic mock model as an OpenAI-compatible API on a loopback address.",
    )
    parser.add_argument("--host", default=LOCALHOST, help="loopback address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free one; default: %(default)s)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="wait before every reply")
    parser.add_argument("--confirm", action="store_true", help="the assistant asks before each goal call")
    parser.add_argument(
        "--sloppy-every", type=int, default=0, metavar="K", help="invent an argument in about 1 dialogue in K"
    )
    parser.add_argument(
        "--faults",
        type=float,
        default=0.0,
        metavar="R",
        help="answer a share R of requests with a transport fault (500, 429, HTML, no choices, truncated, dropped)",
    )
    parser.add_argument(
        "--fail-role",
        type=_fail_role,
        action="append",
        default=[],
        metavar="ROLE=N",
        help="answer ROLE's first N requests with HTTP 500 (-1: all); repeatable",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address (127.0.0.1, ::1, localhost), not {args.host!r}")
    try:
        settings = MockSettings(
            confirm=args.confirm,
            sloppy_every=args.sloppy_every,
            latency_s=args.latency,
            fail_roles=dict(args.fail_role),
            fault_rate=args.faults,
        )
        server = MockServer(settings, host=args.host, port=args.port, keep_requests=False)
    except ValueError as error:
        parser.error(str(error))
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1

    def _stop(*_: object) -> NoReturn:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(server.base_url, flush=True)
    print("rolecall mock model serving; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
