"""Quality gates: every gate declared once and judged by one engine, and the deepchecks suites."""
