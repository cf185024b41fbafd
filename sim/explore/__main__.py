"""Serve the explorer page: ``python -m sim.explore [--port 8765] [--host 127.0.0.1] [--open]``.

It binds to the loopback address unless ``--host`` says otherwise (Solara's own default follows
the ``$HOST`` environment variable, which some shells set to the machine's name).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

LOOPBACK = "127.0.0.1"


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line; bad values exit with a one-line message (argparse's exit code 2)."""
    parser = argparse.ArgumentParser(prog="python -m sim.explore", description="Serve the interactive explorer page.")
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port, 0 for a free one (default: %(default)s)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: allowed are 0 to 65535")
    return args


def main(argv: list[str] | None = None) -> None:
    """Check the extra is installed, then hand over to ``solara run`` (the process becomes the server)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        import mesa.visualization  # noqa: F401
        import solara  # noqa: F401
    except ImportError as err:
        sys.exit(f"the explorer needs the 'explorer' extra ({err.name} is missing): python -m pip install -e '.[explorer]'")
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"note: listening on {args.host}: anyone who can reach this machine can open the page", file=sys.stderr)
    if args.port:  # Solara would say it is starting, then fail on a port in use
        import socket

        with socket.socket() as probe:
            try:
                probe.bind((args.host, args.port))
            except OSError as err:
                print(
                    f"error: --port {args.port}: cannot listen on {args.host}:{args.port} ({err.strerror}); choose another port",
                    file=sys.stderr,
                )
                sys.exit(2)
    command = [sys.executable, "-m", "solara", "run", "sim.explore.page", "--host", args.host, "--port", str(args.port)]
    command.append("--open" if args.open else "--no-open")
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
