"""``python -m outbox_triggers``."""

from outbox_triggers.cli import main

main()
