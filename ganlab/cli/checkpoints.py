"""``ganlab checkpoints``: list the shipped checkpoints, as a table or as JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    listing = commands.add_parser("checkpoints", help="list the shipped checkpoints", parents=[common])
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    from ganlab.checkpoints import SHIPPED_DIR, read_config, shipped_checkpoints

    rows = []
    for name in shipped_checkpoints():
        document = read_config(name)
        config, metadata = document["config"], document.get("metadata", {})
        generator = document["kind"] == "generator"
        rows.append(
            {
                "name": name,
                "kind": document["kind"],
                "model": config.get("arch") if generator else document["class"].rpartition(":")[2].lower(),
                "dataset": metadata.get("dataset", ""),
                # Generators on k-means clusters have classes too, but they are not the user's to choose.
                "conditional": bool(config.get("num_classes")) and not config.get("cluster_prior") if generator else None,
                "path": str(SHIPPED_DIR / name),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:28s} {row['kind']:14s} {row['dataset']}")
    return 0
