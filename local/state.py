"""The local stack's state across restarts: everything moto holds (table, schedules, queues,
sent mail, event bus) and how far the player read the table's stream, written to the state
directory when the stack stops and read back when it starts.

moto keeps its state in memory, in the stack's own process (its server runs there, threaded),
so its backends are pickled as they are. The file is written whole, then renamed: a stop that
is interrupted leaves the previous file. A file that does not load (another moto version, a
damaged file) is set aside, never deleted, and the stack starts empty, saying so. A stack that
is killed (SIGKILL, a crash) saves nothing: it restarts from its last clean stop.
"""

from __future__ import annotations

import io
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FILE", "Restored", "restore", "save"]

FILE = "moto-state.pickle"
_LOCKS = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


@dataclass(frozen=True)
class Restored:
    """What a start found: the player's stream checkpoints, and a note for the banner."""

    checkpoints: dict[str, str] = field(default_factory=dict)
    note: str = "fresh start: nothing saved in the state directory yet"


def save(state_dir: Path, checkpoints: dict[str, str]) -> Path:
    """Write every moto backend in use and the stream checkpoints; call it with nothing
    running against moto (the API and the player stopped)."""
    import moto
    from moto.core.base_backend import BackendDict

    backends = {found.service_name: dict(found) for found in BackendDict._instances}
    buffer = io.BytesIO()
    _Pickler(buffer).dump(
        {"moto": moto.__version__, "backends": backends, "checkpoints": dict(checkpoints)}
    )
    path = state_dir / FILE
    partial = path.with_suffix(".partial")
    partial.write_bytes(buffer.getvalue())
    partial.chmod(0o600)
    partial.replace(path)
    return path


def restore(state_dir: Path) -> Restored:
    """Load the saved state into moto's backends (before anything reads them)."""
    import moto
    from moto.backends import get_backend

    path = state_dir / FILE
    if not path.exists():
        return Restored()
    try:
        saved = pickle.loads(path.read_bytes())  # noqa: S301  # our own file, mode 0600
        if saved["moto"] != moto.__version__:
            raise ValueError(f"saved by moto {saved['moto']}, this is moto {moto.__version__}")
    except Exception as exc:  # any unreadable file: set aside, start empty
        aside = path.with_suffix(".unreadable")
        path.replace(aside)
        return Restored(
            note=f"SAVED STATE NOT RESTORED ({type(exc).__name__}: {exc}); "
            f"it was moved to {aside}, this run starts empty"
        )
    for service, accounts in saved["backends"].items():
        for account, regions in accounts.items():
            get_backend(service)[account].update(regions)  # registered as in use: saved on stop
    return Restored(dict(saved["checkpoints"]), f"restored from {path}")


class _Pickler(pickle.Pickler):
    """Locks (moto's queues hold some) are saved as new, unlocked locks."""

    def reducer_override(self, obj: Any) -> Any:
        factory = _LOCKS.get(type(obj))
        return (factory, ()) if factory is not None else NotImplemented
