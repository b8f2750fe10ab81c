"""Converters from other tools' routing records to routing dumps (docs/importers.md).

Most formats are read by the C++ `moescope import`; the ones stored as Python
pickles (SGLang's torch.save files) are read here, in Python, so that a pickle is
never loaded by the application itself.
"""

import sys

__all__ = ["ImportFailure", "warn"]


class ImportFailure(Exception):
    """A source file that cannot be converted; the message names the file, the record and the problem."""


def warn(message):
    print(f"warning: {message}", file=sys.stderr)
