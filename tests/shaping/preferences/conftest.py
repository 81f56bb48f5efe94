import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The machine is shared: learned-term tests train with one thread.
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
