"""Sources: turn one buffer row (OpenTelemetry log) or one text line (CLF, combined, security-proxy) into a
LoggedRequest, or a Reject saying why not."""
