"""The workspace queue: queued runs as files under .expctl/queue/, and the one scheduler per
workspace that starts them as GPUs or slots free up (store, order, slots, scheduler, service,
operations)."""
