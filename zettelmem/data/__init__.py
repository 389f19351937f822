"""zettelmem package."""
