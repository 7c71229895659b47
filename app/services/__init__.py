"""Domain services: every write to the database goes through here and commits here."""
