"""Operations: service tickets and SLAs, incidents, alerts and task lists built on analytics and text."""

__all__: list[str] = []
