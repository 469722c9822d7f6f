"""The `pol` command: demo, serve, worker and schema."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from .errors import PolError
from .model import CategoricalBound, FloatBound, HyperParamSearchSpace, IntBound
from .store import DATA_DIR_VARIABLE, URI_VARIABLE, default_data_dir

TOKEN_VARIABLE = "POL_API_TOKEN"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

logger = logging.getLogger(__name__)

# The demo's search space: the paper's Table 1, scaled to an MLP on the digits dataset.
DEMO_SEARCH_SPACE = HyperParamSearchSpace(
    {
        "activation": CategoricalBound(("relu", "logistic", "tanh")),
        "hidden_nodes": IntBound(4, 64),
        "alpha": FloatBound(0.001, 0.5, log=True),
        "momentum": FloatBound(0.0, 0.9),
        "batch_size": IntBound(16, 128),
        "max_updates": IntBound(200, 3000),
    }
)


def main(argv: list[str] | None = None) -> int:
    """Run the `pol` command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except PolError as error:
        print(f"pol: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pol: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pol", description=__doc__)
    parser.add_argument(
        "--log-level", default="warning", choices=("debug", "info", "warning", "error")
    )
    commands = parser.add_subparsers(required=True, metavar="command")

    demo = commands.add_parser("demo", help="run a real random search on digits and analyse it")
    _store_options(demo)
    demo.add_argument("--dataset", default="digits")
    demo.add_argument("--trials", type=_at_least(1), default=90, help="configurations to draw")
    demo.add_argument("--runs", type=_at_least(1), default=2, help="runs per configuration")
    demo.add_argument(
        "--top-k", type=_top_k, default=20, help="a whole count >= 1, or a fraction 0 < k < 1"
    )
    demo.add_argument("--max-epochs", type=_at_least(1), default=60)
    demo.add_argument("--workers", type=_at_least(1), default=os.cpu_count() or 1)
    demo.add_argument("--seed", type=_at_least(0), default=0)
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="serve the GraphQL API, with local trial workers")
    _store_options(serve)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; any but loopback needs a token",
    )
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE) or None,
        help=f"token mutations and subscriptions need as 'Authorization: Bearer TOKEN' "
        f"(default ${TOKEN_VARIABLE}; none: no token needed, loopback only)",
    )
    serve.add_argument(
        "--workers",
        type=_at_least(0),
        default=os.cpu_count() or 1,
        help="local trial worker processes (0 for none)",
    )
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="train queued trials until stopped")
    _store_options(worker)
    worker.add_argument("--workers", type=_at_least(1), default=1, help="worker processes")
    worker.set_defaults(run=_worker)

    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.set_defaults(run=_schema)
    return parser


def _at_least(low: int):
    """Return an argparse type: an integer >= `low`."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"got {text!r}; allowed: an integer >= {low}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"got {value}; allowed: an integer >= {low}")
        return value

    return integer


def _top_k(text: str) -> int | float:
    """Return k as the analytics take it: a whole count >= 1, or a fraction 0 < k < 1."""
    allowed = "a whole count >= 1, or a fraction 0 < k < 1"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: {allowed}") from None
    if not 0 < value < float("inf") or (value >= 1 and not value.is_integer()):
        raise argparse.ArgumentTypeError(f"got {text}; allowed: {allowed}")
    return int(value) if value >= 1 else value


def _port(text: str) -> int:
    value = _at_least(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"got {value}; allowed: a port from 1 to 65535")
    return value


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get(URI_VARIABLE),
        help=f"MongoDB URI (default ${URI_VARIABLE}; none: the embedded engine)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"embedded engine's data directory (default ${DATA_DIR_VARIABLE} "
        f"or {default_data_dir()})",
    )


def _address(args: argparse.Namespace):
    from .worker import StoreAddress

    data_dir = None if args.db else str(args.data_dir or default_data_dir())
    return StoreAddress(uri=args.db, data_dir=data_dir)


def _demo(args: argparse.Namespace) -> int:
    from .analytics import analyse, render_analysis
    from .trials import create_experiment, queue_trials
    from .worker import WorkerPool

    address = _address(args)
    store = address.connect()
    space = HyperParamSearchSpace(
        {**DEMO_SEARCH_SPACE.bounds, "max_epochs": CategoricalBound((args.max_epochs,))}
    )
    experiment = create_experiment(
        store,
        f"demo: {args.dataset} random search",
        args.dataset,
        space,
        seed=args.seed,
        description="pol demo: random search over an MLP, a snapshot every epoch",
    )
    learners = queue_trials(store, experiment.id, args.trials, runs=args.runs, seed=args.seed)
    print(
        f"experiment {experiment.id}: {len(learners)} trial-runs on {args.dataset} "
        f"({experiment.dataset.rows} rows), {args.workers} workers, store: "
        f"{address.uri or address.data_dir}"
    )
    started = time.monotonic()
    pool = WorkerPool(
        address, max(1, args.workers), experiment_id=experiment.id, exit_when_idle=True
    ).start()
    try:
        _show_progress(store, experiment.id, learners, pool)
    finally:
        pool.close()
    counts = store.count_learners(experiment.id)
    snapshots = store.snapshots.count_documents({"experiment_id": _oid(experiment.id)})
    print(
        f"\ntrained {len(learners)} trial-runs in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{count} {status}" for status, count in counts.items() if count)
        + f"; {snapshots} epoch snapshots stored\n"
    )
    top_k = args.top_k
    print(render_analysis(analyse(store.analytics_database, experiment.id, top_k, "loss", "valid")))
    print(
        f"\nExplore it: pol serve{_store_flags(args)}  then open http://127.0.0.1:8000/graphql"
        f"\n  experiment id: {experiment.id}"
    )
    store.close()
    return 0


def _show_progress(store, experiment_id: str, learners, pool) -> None:
    """Show one bar for all trial-runs and, while it trains, one bar per trial-run."""
    from collections import Counter

    from tqdm import tqdm

    overall = tqdm(total=len(learners), desc="trial-runs", unit="trial", dynamic_ncols=True)
    ended: Counter[str] = Counter()
    bars = {}
    open_ids = {learner.id for learner in learners}
    while open_ids:
        for learner in store.learners_of(experiment_id, ids=list(open_ids)):
            bar = bars.get(learner.id)
            if bar is None and (learner.status == "running" or learner.finished):
                bar = bars[learner.id] = tqdm(
                    total=learner.hyper_parameters.max_epochs,
                    desc=f"  trial {learner.configuration:>3}.{learner.run}",
                    unit="epoch",
                    leave=False,
                    dynamic_ncols=True,
                )
            if bar is not None:
                bar.update(learner.epochs - bar.n)
            if learner.finished:
                bar.close()
                open_ids.discard(learner.id)
                ended[learner.status.replace("_", " ")] += 1
                overall.set_postfix_str(
                    ", ".join(f"{n} {status}" for status, n in ended.items()), refresh=False
                )
                overall.update(1)
        if open_ids and not pool.alive():
            break
        time.sleep(0.3)
    for bar in bars.values():
        bar.close()
    overall.close()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .worker import WorkerPool

    args.token = args.token or None  # an empty token is none
    if args.token is None and not _loopback(args.host):
        print(
            f"pol: refusing to listen on {args.host} without a token: anyone who reaches it "
            f"could start, pause and cancel trials. Give --token TOKEN (or "
            f"${TOKEN_VARIABLE}), or listen on 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    address = _address(args)
    store = address.connect()
    pool = WorkerPool(address, args.workers).start() if args.workers > 0 else None
    print(
        f"POL GraphQL API on http://{args.host}:{args.port}/graphql "
        f"({args.workers} trial workers; store: {address.uri or address.data_dir}; "
        f"{'mutations and subscriptions need the token' if args.token else 'no token'})"
    )
    # uvicorn handles SIGTERM itself, then raises it again once it has stopped; with the
    # default handler that would end the process before the workers are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        app = create_app(store, token=args.token)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        if pool is not None:
            pool.close()
        store.close()
    return 0


def _loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def _worker(args: argparse.Namespace) -> int:
    import signal

    from .worker import WorkerPool

    pool = WorkerPool(_address(args), max(1, args.workers)).start()
    signal.signal(signal.SIGTERM, lambda *_: pool.stop.set())
    try:
        while pool.alive() and not pool.stop.is_set():
            time.sleep(0.5)
    finally:
        pool.close()
    return 0


def _schema(args: argparse.Namespace) -> int:
    from .schema import schema

    print(schema.as_str())
    return 0


def _store_flags(args: argparse.Namespace) -> str:
    if args.db:
        return f" --db '{args.db}'"
    if args.data_dir:
        return f" --data-dir {args.data_dir}"
    return ""


def _oid(experiment_id: str):
    from .model.ids import object_id

    return object_id("experiment_id", experiment_id)


if __name__ == "__main__":
    sys.exit(main())
