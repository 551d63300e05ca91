"""`exprun approve|regenerate|init|...`: the pipeline verbs (filled in by the prepare phase)."""

import argparse


def add_parsers(groups: argparse._SubParsersAction) -> None:
    """Register pipeline verbs."""
