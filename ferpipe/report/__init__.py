"""The paper's tables as DVC experiments (sweeps, k-fold), their Markdown tables and plots, and REPORT.md."""
