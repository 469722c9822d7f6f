"""Run mongoeco's MongoDB wire-protocol server on its SQLite engine.

Runs under Python 3.13 only (mongoeco 4.11 supports CPython >= 3.13), in the
virtual environment that ``scripts/wire-server start`` creates. mongoeco ships
no command-line entry point for its wire server, so this launcher builds one
from its public classes: ``AsyncMongoEcoProxyServer`` and ``SQLiteEngine``.

Usage: python wire_server.py --port PORT --db PATH [--host 127.0.0.1]
                             [--dialect 7.0] [--pymongo-profile 4.19]

It binds a loopback address only, prints one "listening" line when it accepts
connections, and shuts down cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys

from pathlib import Path


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite database file")
    parser.add_argument(
        "--dialect", default="7.0", choices=("7.0", "8.0", "9.0"),
        help="MongoDB server dialect the server emulates",
    )
    parser.add_argument(
        "--pymongo-profile", default="4.19",
        help="mongoeco PyMongo API profile (4.9 ... 4.19)",
    )
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error(f"refusing to bind a non-loopback address: {args.host}")
    if not 0 < args.port < 65536:
        parser.error(f"invalid port: {args.port}")
    return args


async def _serve(args: argparse.Namespace) -> None:
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    db_path = Path(args.db).expanduser().resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = SQLiteEngine(str(db_path))
    server = AsyncMongoEcoProxyServer(
        engine=engine,
        host=args.host,
        port=args.port,
        mongodb_dialect=args.dialect,
        pymongo_profile=args.pymongo_profile,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    address = await server.start()
    try:
        import mongoeco

        print(
            f"mongoeco {mongoeco.__version__} wire server listening on "
            f"{address.host}:{address.port} (sqlite {db_path}, "
            f"dialect {args.dialect}, pymongo profile {args.pymongo_profile})",
            flush=True,
        )
        await stop.wait()
        print("shutting down", flush=True)
    finally:
        await server.close()
    print("stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < (3, 13):
        print("wire_server.py needs Python >= 3.13 (mongoeco)", file=sys.stderr)
        return 2
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(_serve(args))
    except OSError as error:
        print(f"wire_server.py: cannot serve: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
