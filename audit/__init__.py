"""trm-audit: the harness (claims registry, run planning, records, statistics, report).

It knows nothing of tensors: it calls the `trm` trainer through one entry point and reads records.
"""

__version__ = "0.1.0"
