"""Who may do what on a shared copy, and how much (pure logic)."""

from __future__ import annotations

from assistant.access import Gate, RateLimit, parse_maintainers, proxied, role

MAINTAINERS = parse_maintainers("Ana@Example.org, bo@example.org")


def test_with_sign_in_only_listed_addresses_edit_whatever_the_address_served():
    assert role(True, "ana@example.org", MAINTAINERS, "0.0.0.0").can_edit
    assert role(True, "ANA@EXAMPLE.ORG", MAINTAINERS, "0.0.0.0").can_edit  # addresses are compared case-blind
    reader = role(True, "cy@example.org", MAINTAINERS, "127.0.0.1")
    assert not reader.can_edit and reader.signed_in and "reader" in reader.why
    assert not role(True, "", MAINTAINERS, "127.0.0.1").can_edit  # not signed in


def test_without_sign_in_only_a_page_served_to_this_machine_alone_edits():
    assert role(False, "", (), "127.0.0.1", "127.0.0.1").can_edit
    assert role(False, "", (), "localhost").can_edit
    assert not role(False, "", (), "0.0.0.0", "192.0.2.10").can_edit
    assert not role(False, "", (), None).can_edit  # Streamlit's default listens on every interface
    assert not role(False, "", (), "127.0.0.1", "192.0.2.10").can_edit
    # A reverse proxy on this machine passes the network's requests to the loopback address: not local.
    assert not role(False, "", (), "127.0.0.1", "127.0.0.1", proxied=True).can_edit
    assert proxied({"X-Forwarded-For": "203.0.113.7"}) and not proxied({"Host": "127.0.0.1:8501"})


def test_maintainers_are_parsed_from_a_comma_or_space_separated_setting():
    assert parse_maintainers("a@x.org b@x.org, A@X.ORG not-an-address") == ("a@x.org", "b@x.org")


def test_a_session_over_its_rate_is_refused_until_the_window_passes():
    now = [0.0]
    limit = RateLimit(2, 60, lambda: now[0])
    assert limit.allow() and limit.allow() and not limit.allow()
    assert 1 <= limit.wait() <= 60
    now[0] = 61
    assert limit.allow() and limit.wait() == 0
    assert all(RateLimit(0, 60).allow() for _ in range(100))  # 0 means no limit


def test_the_gate_lets_in_as_many_answers_as_it_has_slots_and_no_queue_forms():
    gate = Gate(2)
    assert gate.try_enter() and gate.try_enter() and not gate.try_enter()
    gate.leave()
    assert gate.try_enter()
