"""Language-queried source separation with the Two-Towers text side (see :mod:`.model`)."""

from almkit.architectures.queried_separator.model import QueriedSeparator, SeparatorConfig

__all__ = ["QueriedSeparator", "SeparatorConfig"]
