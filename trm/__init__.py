"""trm: the bundled TRM/HRM trainer, a library that knows nothing of claims or reports.

Importing the package imports nothing heavy; import the submodules you need
(`trm.config`, `trm.model`, `trm.train`, ...).
"""
