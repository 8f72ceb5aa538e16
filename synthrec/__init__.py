"""synthrec: layered synthetic data and scaling laws for LLM-based recommenders."""

__version__ = "0.1.0"
