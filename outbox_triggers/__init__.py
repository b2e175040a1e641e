"""outbox-triggers: a transactional outbox for MySQL and MariaDB, captured by triggers, relayed to AWS."""

from __future__ import annotations

from outbox_triggers.emitting import emit
from outbox_triggers.errors import OutboxError

__version__ = "0.1.0"
__all__ = ["OutboxError", "__version__", "emit"]
