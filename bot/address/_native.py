"""Where the compiled resolver lives, and whether it is used.

``make install`` compiles ``data.py`` and ``resolver.py`` with mypyc (``python -m
bot.address.build``) into the virtual environment, not into the source tree:
``<venv>/address-native/bot/address/*.so``, beside ``sources.json`` which records the
SHA-256 of the sources they were compiled from. The package puts that directory first on
its ``__path__`` only when every recorded digest matches the source as it is now, so an
edited ``resolver.py`` is never shadowed by an older build: it runs as pure Python until
the next ``make install``. ``BOT_ADDRESS_PURE=1`` forces pure Python (to compare, or to
debug). The compiled and the pure modules give the same answers (a test checks it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
ROOT = Path(sys.prefix) / "address-native"  # what the build writes (Makefile: NATIVE)
MANIFEST = ROOT / "sources.json"
PACKAGE_DIR = ROOT / "bot" / "address"
COMPILED = ("data", "resolver")  # modules compiled; the rest of the package stays Python
PURE_ENV = "BOT_ADDRESS_PURE"


def digests() -> dict[str, str]:
    """SHA-256 of each compiled module's source, and the interpreter it is built for."""
    out = {
        name: hashlib.sha256((SOURCE_DIR / f"{name}.py").read_bytes()).hexdigest()
        for name in COMPILED
    }
    out["python"] = sys.implementation.cache_tag or ""
    return out


def directory() -> Path | None:
    """The compiled modules' directory when they exist and match the sources, else None."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        recorded = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # never built: pure Python
    if recorded != digests():
        warnings.warn(
            "the compiled address resolver is older than its source: using pure Python "
            "(run `make install` to recompile)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return PACKAGE_DIR


def compiled() -> bool:
    """Whether the resolver in use is the compiled one."""
    module = sys.modules.get("bot.address.resolver")
    return module is not None and not str(getattr(module, "__file__", "")).endswith(".py")
