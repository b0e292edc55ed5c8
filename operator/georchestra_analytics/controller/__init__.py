"""kopf handlers (thin), status conditions and timers."""
