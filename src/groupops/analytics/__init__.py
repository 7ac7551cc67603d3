"""Analytics: metrics, member models (CLV, churn, recommendations) computed from the warehouse."""

__all__: list[str] = []
