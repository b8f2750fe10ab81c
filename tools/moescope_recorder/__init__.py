"""MoE Scope recorder: write routing dumps (dump-format.md) from Python.

The writer and the training logger need only numpy and h5py; the PyTorch hooks
are imported on first use so that writing a dump does not require torch.
"""

from . import routing
from .run_log import RunLog
from .training_log import TrainingLog
from .writer import FORMAT_NAME, FORMAT_VERSION, DumpError, DumpWriter

__all__ = [
    "DumpWriter",
    "DumpError",
    "TrainingLog",
    "RunLog",
    "RoutingRecorder",
    "record_hf_router_logits",
    "routing",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]


def __getattr__(name):
    if name in ("RoutingRecorder", "record_hf_router_logits"):
        from . import hooks

        return getattr(hooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
