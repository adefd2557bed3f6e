"""Run one package's command-line verbs on their own: how ``python -m services.<name>`` starts.

A service package adds its verbs with ``register(subparsers)``. The ``storesight`` command
(``tools.cli``) collects the verbs of every package; a service's ``__main__`` runs only its
own through this helper, so a service never imports the tools layer above it.

>>> import argparse
>>> def register(sub):
...     hello = sub.add_parser("hello")
...     hello.add_argument("--name", default="world")
...     hello.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)
>>> run_verb(register, "hello", ["--name", "store"], prog="demo")
hello store
0
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def run_verb(register: Callable[[argparse._SubParsersAction], None], verb: str, argv: Sequence[str],
             prog: str) -> int:
    """Parse ``verb *argv`` with the verbs ``register`` adds and run the chosen handler."""
    parser = argparse.ArgumentParser(prog=prog)
    register(parser.add_subparsers(dest="verb", required=True, metavar="VERB"))
    args = parser.parse_args([verb, *argv])
    return int(args.func(args) or 0)
