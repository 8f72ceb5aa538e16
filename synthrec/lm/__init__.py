"""lm stage."""
