"""tasqlake's benchmark suite (issue 6): data generation, figures, baselines, the table."""
