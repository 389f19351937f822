"""The memory engine: the async core, its sync facade, search and maintenance."""
