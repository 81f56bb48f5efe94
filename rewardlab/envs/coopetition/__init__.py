"""The coopetition environment family (under construction)."""


def register_envs() -> None:
    """Register this family's ids; none yet."""
