"""Pure transforms: a raw log line in, an ECS event out. No I/O here."""
