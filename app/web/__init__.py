"""HTTP routes: respondent pages, coordinator pages, the JSON API and health checks."""
