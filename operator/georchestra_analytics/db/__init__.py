"""Database access: connections, migrations, policy reconciler, flavor detection, embedded server."""
