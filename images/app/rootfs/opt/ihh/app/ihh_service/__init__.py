"""The reference internet-hospital service: patient and doctor flows on PostgreSQL, every step audited."""
