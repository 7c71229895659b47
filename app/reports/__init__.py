"""The partnership report: charts, tables and downloads."""
