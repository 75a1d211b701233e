"""Corpus statistics of a run beside stateful references (``rolecall report``)."""

from rolecall.report._distance import js_distance, noise_floor, share_bin
from rolecall.report._html import render_html
from rolecall.report._report import DISTRIBUTIONS, ReportError, build_report, compare, corpus_summary
from rolecall.report._stats import ConversationStats, conversation_stats
from rolecall.report._terminal import print_report

__all__ = [
    "DISTRIBUTIONS",
    "ConversationStats",
    "ReportError",
    "build_report",
    "compare",
    "conversation_stats",
    "corpus_summary",
    "js_distance",
    "noise_floor",
    "print_report",
    "render_html",
    "share_bin",
]
