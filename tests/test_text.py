"""The repeat and agent-voice tests that the session and the embedded client redraft on."""

from __future__ import annotations

import pytest

from rolecall.text import (
    asks_something,
    in_first_person,
    is_closing,
    names_all_words,
    plain_words,
    repeats,
    sounds_like_agent,
    topic_stems,
)

FOUND = "I found the order with order number W-48213. The order ID is ord_7h2k9x4m1q, and it is placed."


def test_plain_words_ignore_case_punctuation_and_spacing() -> None:
    assert plain_words("  Your account is CLOSED!  ") == plain_words("your account, is closed")
    assert plain_words("your account, is closed") == ["your", "account", "is", "closed"]


@pytest.mark.parametrize(
    ("text", "earlier", "expected"),
    [
        (FOUND, [FOUND.upper()], True),  # word for word
        (FOUND.replace("ord_7h2k9x4m1q", "ord_0000000000"), [FOUND], True),  # one word changed
        ("your account is CLOSED", ["Your account is closed."], True),  # short, but exact
        ("I will proceed to find the order W-39550.", ["Thanks. I will proceed to find the order W-39550."], True),
        ("the order W-39550.", ["Thanks. I will proceed to find the order W-39550."], False),  # a short piece
        ("Thank you!", ["Thank you."], False),  # pleasantries may be said twice
        ("Your order is closed now.", ["Your account is closed now."], False),  # short: one word matters
        (FOUND, ["I found the order.", "Anything else?"], False),
        (FOUND, [], False),
    ],
)
def test_repeats(text: str, earlier: list[str], expected: bool) -> None:
    assert repeats(text, earlier) is expected


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Sure, I'd be happy to help. What is the new address?", True),
        ("I\u2019d be glad to assist you with that.", True),
        ("Hello, thank you for contacting support. I need to unlock my account.", True),
        ("Can you please provide me with your employee ID?", True),
        ("How can I help you today?", True),
        ("I need a refund for order W-39550; my email is priya.raman@example.com.", False),
        ("Can you provide the refund amount, please?", False),
        ("Thanks for your help!", False),
        ("I'm sorry, but I cannot provide your email or order number as they are confidential.", True),
        ("I don't have access to your work email.", True),
        ("I can't access your website, so I am writing here.", False),  # a customer's complaint
        ("I'm not sure what you need. Could you please provide me with more details?", True),
        ("Can you provide more details about the refund?", False),
    ],
)
def test_sounds_like_agent(text: str, agent: bool) -> None:
    assert sounds_like_agent(text) is agent


@pytest.mark.parametrize(
    ("text", "closing"),
    [
        ("Thank you for your help!", True),
        ("Thanks, that's all. Let me know if anything changes.", True),
        ("Great, got it.", True),
        ("Thanks! Can you also cancel order W-48213?", False),
        ("I still need the refund for my skillet.", False),
        ("Greatly appreciated if you could hurry", False),
    ],
)
def test_is_closing(text: str, closing: bool) -> None:
    assert is_closing(text) is closing


def test_topic_stems_keep_content_words_and_meet_across_word_forms() -> None:
    stems = topic_stems("She wants a refund: the skillet's handle was cracked when it arrived.")
    assert {"refun", "skill", "handl", "crack", "arriv"} <= stems
    assert not stems & {"she", "wants", "the", "when", "was"}
    assert topic_stems("issue_refund") == {"issue", "refun"} and topic_stems("refunded") == {"refun"}


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Which email is the account under?", True),
        ("Please provide the order number.", True),
        ("Could you tell me the hostname", True),
        ("A return label will be sent to your email.", False),
        ("Your order is on its way.", False),
    ],
)
def test_asks_something(text: str, asks: bool) -> None:
    assert asks_something(text) is asks


@pytest.mark.parametrize(
    ("text", "label", "named"),
    [
        ("What is your order number?", "order number", True),
        ("Please give me your work email address.", "email", True),
        ("Which order is it?", "order number", False),  # every word, not one of them
        ("Your reorder number", "order number", False),  # words start where the label's do
        ("Anything else?", "", False),
    ],
)
def test_names_all_words(text: str, label: str, named: bool) -> None:
    assert names_all_words(text, label) is named


@pytest.mark.parametrize(
    ("goal", "said"),
    [
        (
            "Hannah Okoro wants to be back in her account within minutes.",
            "I want to be back in my account within minutes.",
        ),
        ("Hannah needs her laptop checked so she can work.", "I need my laptop checked so I can work."),
        ("The customer wishes to cancel order W-1", "I wish to cancel order W-1."),
        ("Hannah is locked out of Hannah's account.", "I am locked out of my account."),
        ("The user tries to reset a password.", "I try to reset a password."),
        # Not about the customer by name: asked for as it stands.
        (
            "Check the compliance state of NB-LON-0412.",
            "I need help with this: check the compliance state of NB-LON-0412.",
        ),
    ],
)
def test_in_first_person(goal: str, said: str) -> None:
    assert in_first_person(goal, ["Hannah Okoro", "Hannah"]) == said
