"""Shared fixtures."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test on one CPU thread. The book's small models are as fast on one thread, and on a
    busy 2-core machine two threads spin-waiting on each other made them ~20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
