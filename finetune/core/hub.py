"""Is the Hugging Face Hub reachable? Answered within seconds, never by hanging on a download.

Offline machines (CI, air-gapped classrooms) must fail fast with a message naming the local
alternative, so every Hub load first asks ``hub_reachable()``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlparse

_TRUTHY = {"1", "true", "yes", "on"}
_CACHE_SECONDS = 60.0
_cache: tuple[float, bool] | None = None
_lock = threading.Lock()


def hub_offline_by_env() -> bool:
    return any(os.environ.get(v, "").strip().lower() in _TRUTHY for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _can_connect(host: str, port: int, timeout: float) -> bool:
    # DNS lookups have no timeout of their own, so the whole probe runs in a daemon thread
    # that we stop waiting for after `timeout` seconds.
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub endpoint accepts a TCP connection (cached for a minute)."""
    global _cache
    if hub_offline_by_env():
        return False
    with _lock:
        now = time.monotonic()
        if _cache is not None and now - _cache[0] < _CACHE_SECONDS:
            return _cache[1]
        url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
        port = url.port or (443 if url.scheme == "https" else 80)
        reachable = _can_connect(url.hostname or "huggingface.co", port, timeout)
        _cache = (now, reachable)
        return reachable
