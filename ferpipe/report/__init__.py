"""What is written from the experiments' results: the sweep tables (Markdown, plots, tables.json) and REPORT.md."""
