"""Idempotency keys: each caller's scope is its own, whatever ids it chooses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dispatch.idempotency import keys_for
from dispatch.orders import CHANNELS

TEXT = st.text(alphabet=":ab/", min_size=1, max_size=8)  # colons: the separator itself
SCOPES = st.none() | st.builds(lambda who: f"shopper:{who}", TEXT)


@given(SCOPES, SCOPES, st.sampled_from(CHANNELS), TEXT, TEXT, st.none() | TEXT, st.none() | TEXT)
def test_keys_of_two_scopes_never_meet(
    mine: str | None, theirs: str | None, channel: str, my_id: str, their_id: str,
    my_header: str | None, their_header: str | None,
) -> None:  # fmt: skip
    """Two different scopes share no key, however their ids and headers are spelt."""
    if mine == theirs:
        return
    ours = set(keys_for(channel, my_id, my_header, scope=mine))
    other = set(keys_for(channel, their_id, their_header, scope=theirs))
    assert not ours & other


def test_staff_keys_keep_their_layout() -> None:
    """The staff's shared keys are spelt as before scopes, so claims made then still hold."""
    assert keys_for("wechat", "wx-1", "k") == ["idem:channel:wechat:wx-1", "idem:key:k"]
