"""argparse types shared by the subcommands: each refuses a bad value in one line that
names the flag (exit 2), before any work."""

from __future__ import annotations

import argparse


class IntArg:
    """An argparse ``type``: an integer in ``[low, high]`` (None: unbounded). Other text, or
    a number out of range, is a usage error naming the flag (one line, exit 2) before any
    work. The bounds are attributes, so tests probe every such flag from the parsers."""

    def __init__(self, low: int | None = None, high: int | None = None):
        self.low, self.high = low, high
        self.__name__ = "integer"  # argparse's name for the type in its own messages

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"an integer >= {self.low}"
        if self.high is not None:
            return f"an integer <= {self.high}"
        return "an integer"

    def __call__(self, text):
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}") \
                from None
        if (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {value}")
        return value

    def __repr__(self):
        return f"IntArg({self.low}, {self.high})"


SEED_MAX = 2**32 - 1  # numpy's seeds; the estimators' random_state has the same range


def seed_arg() -> IntArg:
    return IntArg(0, SEED_MAX)
