"""exprun: carry an ML experiment planned on a wiki page from code to results."""

__version__ = "0.1.0"
