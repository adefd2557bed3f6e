"""``storesight demo``: the whole pipeline on the embedded broker with a sample clip.

Today it starts the embedded broker and creates the topics; the services join it as they land
(see README, "Status").
"""

from __future__ import annotations

import argparse


def _cmd_demo(args: argparse.Namespace) -> int:
    from storesight.cli import _cmd_broker

    return _cmd_broker(argparse.Namespace(port=args.port, topics=True))


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run the pipeline on the embedded broker with a sample clip")
    demo.add_argument("--port", type=int, default=9092)
    demo.set_defaults(func=_cmd_demo)
