"""Text analysis for group messages and marketing copy: normalisation, compliance, classification.

A pure library: strings in, results out (no store, no settings side effects). Each concept is a
module of its own (``normalise``, ``compliance``, ``labels`` …); import from those modules.
"""

__all__: list[str] = []
