"""Segments: rule blocks, the compiler that turns them into one query, and membership."""
