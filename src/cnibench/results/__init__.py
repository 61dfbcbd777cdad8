"""Versioned result records, their files, and the statistics over them."""
