"""Thin DVC stage entry points over library code."""
