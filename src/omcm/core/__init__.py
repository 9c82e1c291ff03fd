"""The ground floor: what every layer above uses, and nothing of theirs.

Paths (one override seam each), typed records and the hot path's JSON, state files
written atomically under a lock, the one subprocess wrapper, errors, secret masking,
per-session bookkeeping, and figures as people read them.
"""
