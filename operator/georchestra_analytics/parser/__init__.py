"""The parse job: sources, record model, application processors, OGC request classifier, privacy, writer."""
