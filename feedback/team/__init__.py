"""Teams: shared learning on a PostgreSQL team store (``feedback.team``).

Each developer's events still go to the local SQLite store first; ``shipper`` sends what the
models learn from (features, outcomes, hashes, the repository's identity: ``outbound``) to the
team store in the background; ``training`` fits the acceptance cascade on the team's events per
repository and for the whole team and publishes the weights; ``models`` fetches the newest
weights for a server; ``memory`` gives review the comments and fixes the team turned down;
``stats`` sums the team's events up. ``schema`` owns the database's versioned tables.

Boundary: plain Python over psycopg 3 (imported lazily, only where a team store is used, so a
server without ``feedback.team`` never pays for it). Nothing here blocks the server's event loop:
the server runs it on threads of its own or through its executor.
"""
