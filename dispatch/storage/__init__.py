"""Everything that talks to Redis: the client, key names, reply decoding and the stored records;
and the files the service keeps under var/ (its own redis-server's data, the signing secret).

No module outside this package imports redis (tests/test_layers.py checks it); the rest of the
service gets typed values from here.
"""
