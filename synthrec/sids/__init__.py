"""sids stage."""
