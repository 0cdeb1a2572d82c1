"""dataframer-watcher: alerts when Dataframer runs finish."""

__version__ = "0.1.0"
