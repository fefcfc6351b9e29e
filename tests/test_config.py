"""Settings from the environment."""

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import InputError


def test_environment_variables_override_defaults():
    s = Settings.from_env({"ASSISTANT_TOP_K": "7", "ASSISTANT_INDEX_DIR": "/tmp/x", "ASSISTANT_THRESHOLD": "0.5"})
    assert s.top_k == 7 and s.index_dir == Path("/tmp/x") and s.threshold == 0.5


def test_a_bad_number_is_one_clear_error():
    with pytest.raises(InputError, match="ASSISTANT_TOP_K"):
        Settings.from_env({"ASSISTANT_TOP_K": "many"})


def test_invalid_values_are_refused():
    with pytest.raises(InputError):
        Settings(top_k=0).validated()
    with pytest.raises(InputError):
        Settings.from_env({"ASSISTANT_ANSWER_MODE": "poetry"})
    with pytest.raises(InputError):
        Settings.from_env({"ASSISTANT_ASKED_OFFSET": "-0.1"})


def test_model_name_follows_the_model_path():
    assert Settings().model_name == "all-MiniLM-L6-v2"
    assert Settings(model_path="/models/other-model").model_name == "other-model"


def test_api_key_is_not_in_the_repr():
    assert "sekret" not in repr(Settings.from_env({"ASSISTANT_LLM_API_KEY": "sekret"}))
