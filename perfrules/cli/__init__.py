"""The ``perfrules`` command line: click commands over the library, one module per group of commands, with exit
codes decided in one place (``main.PerfrulesGroup``)."""
