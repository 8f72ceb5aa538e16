"""sasrec stage."""
