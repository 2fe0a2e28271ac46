"""Pure geography: distances, the store catalogue, opening hours and the H3 store index.

Nothing in this package does network I/O or knows about Flask or Redis.
"""
