"""ML career assistant: answers questions about becoming an ML engineer from a cited corpus.

    from assistant import Assistant
    bot = Assistant.load()
    answer = bot.ask("What skills do I need?")

Importing this package is cheap: torch, FAISS and the model load on first use.
"""

from .answer import Answer
from .api import Assistant
from .config import Settings
from .errors import AssistantError
from .retrieve import Source

__all__ = ["Answer", "Assistant", "AssistantError", "Settings", "Source"]
__version__ = "0.1.0"
