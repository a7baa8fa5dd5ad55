"""The type aliases every module uses, defined once.

Arrays of any backend are typed ``Array`` (the standard has no common base class, so
this is ``Any`` with a name that says what is meant); an Array-API namespace is a
``Namespace``; a device is whatever the backend calls one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Array", "Device", "Namespace"]

Array = Any
Namespace = Any
Device = Any
