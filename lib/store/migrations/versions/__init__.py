"""Schema revisions, oldest first: 0001 initial tables, 0002 request keys for drift series,
0003 the `failed` experiment status."""
