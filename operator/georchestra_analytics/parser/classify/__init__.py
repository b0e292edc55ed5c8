"""Request classification: OGC KVP, REST-style tiles and OGC APIs, workspaces and layers, applications."""
