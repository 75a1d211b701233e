"""The heuristics the aids for a weak user act on: agent voice, closing, confirming, asking."""

from __future__ import annotations

import pytest

from rolecall.assist import (
    asks_leave,
    asks_something,
    confirms,
    gives_new_value,
    in_first_person,
    is_closing,
    names_all_words,
    sounds_like_agent,
)


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
        ("Could you provide your supervisor's name?", False),  # a customer asking about the agent's side
        ("Could you please provide your order number?", True),
        # The assistant model's stock refusal, said as the customer's opening (embedded IT run).
        ("I'm sorry, but I'm unable to assist with that. Could you please clarify your request?", True),
        ("I can't assist with that.", True),
        ("Could you clarify your request?", True),
        ("I can't help it, the laptop keeps crashing.", False),
        ("Sorry, I am not able to restart it right now, I'm on the train.", False),
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
        ("Perfect, please go ahead and close it.", False),  # a confirmation, not a goodbye
        ("Great, yes do it.", False),
        ("Thanks, go ahead.", False),
    ],
)
def test_is_closing(text: str, closing: bool) -> None:
    assert is_closing(text) is closing


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


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("Perfect, please go ahead and close it.", True),
        ("Great, yes do it.", True),
        ("Thanks, go ahead.", True),
        ("Please cancel it.", True),
        ("Thank you, that is everything I needed.", False),
        ("Thanks for your help!", False),
    ],
)
def test_confirms(text: str, yes: bool) -> None:
    assert confirms(text) is yes


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Shall I close it now?", True),
        ("Would you like me to issue the refund of $30?", True),
        ("Please confirm that you want the account closed.", True),
        ("Is there anything else I can help you with?", False),
        ("What is your order number?", False),
        ("Your account is closed.", False),
    ],
)
def test_asks_leave(text: str, asks: bool) -> None:
    assert asks_leave(text) is asks


@pytest.mark.parametrize(
    ("text", "earlier", "new"),
    [
        ("Hello. I need help with case 33636.", ["Hello. I need help with case 56334."], True),
        ("Sure, my order number is W-18165.", ["Sure, my email is ann@example.com."], True),
        ("Sure, my email is ann@example.com.", ["My email is ann@example.com, order W-1."], False),
        ("Your account is closed.", ["Your account is closed."], False),  # no value at all
    ],
)
def test_gives_new_value(text: str, earlier: list[str], new: bool) -> None:
    assert gives_new_value(text, earlier) is new
